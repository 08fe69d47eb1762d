import { Injectable } from '@nestjs/common';
import { OpencodeTurnRunner } from '@app/opencode';
import type {
  CodingTurnsPort,
  CodingTurnOutcome,
  CodingTurnRef,
  CodingTurnRequest,
  RunTurnOptions,
} from '../../application/ports/coding-turns.port';

/** The coding-turns port on an OpenCode server; the turn logic lives in @app/opencode. */
@Injectable()
export class OpencodeCodingTurnsAdapter implements CodingTurnsPort {
  constructor(private readonly runner: OpencodeTurnRunner) {}

  openTurn(request: CodingTurnRequest): Promise<CodingTurnRef> {
    return this.runner.openTurn(request);
  }

  runTurn(ref: CodingTurnRef, request: CodingTurnRequest, options: RunTurnOptions): Promise<CodingTurnOutcome> {
    return this.runner.runTurn(ref, request, options);
  }

  isHealthy(): Promise<boolean> {
    return this.runner.isHealthy();
  }

  releaseDirectory(directory: string): Promise<boolean> {
    return this.runner.releaseDirectory(directory);
  }
}
