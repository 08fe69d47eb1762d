import { stat } from 'node:fs/promises';
import { OpencodeError } from '../client/opencode-error';
import type { OpencodeHttpClient } from '../client/opencode-http-client';
import { newOpencodeMessageId } from '../client/opencode-message-id';
import { buildSessionRuleset } from './permission-ruleset';
import { DEFAULT_TURN_TIMINGS, TurnFollower, TurnRunnerTimings } from './turn-follower';
import type { RunTurnOptions, TurnOutcome, TurnRef, TurnRequest } from './turn.types';

/**
 * One coding turn on an OpenCode server: open it (session + message id, nothing sent), then
 * run it (send the prompt once, follow it to its end, read its outcome).
 */
export class OpencodeTurnRunner {
  private readonly timings: TurnRunnerTimings;

  constructor(
    private readonly client: OpencodeHttpClient,
    timings: Partial<TurnRunnerTimings> = {},
  ) {
    this.timings = { ...DEFAULT_TURN_TIMINGS, ...timings };
  }

  /**
   * Creates the OpenCode session, with the turn's policy as its permission ruleset, and picks
   * the turn's message id. Rejects with an OpencodeError when the workspace is missing or the
   * server refuses or does not answer.
   */
  async openTurn(request: TurnRequest): Promise<TurnRef> {
    // OpenCode accepts a directory that does not exist, silently.
    if (!(await stat(request.workspace).catch(() => null))?.isDirectory()) {
      throw new OpencodeError(`workspace ${request.workspace} is not a directory`, 'WORKSPACE_MISSING');
    }
    // A title always: without one OpenCode spends a model call to invent it.
    const session = await this.client.createSession(request.workspace, {
      title: request.title.trim() || 'Coding turn',
      // Sent with the session, not the prompt: OpenCode evaluates session rules last (the ceiling).
      permission: buildSessionRuleset(request.policy, request.disabledTools),
    });
    return { opencodeSessionId: session.id, messageId: newOpencodeMessageId() };
  }

  /**
   * Sends the prompt (unless `resume` finds it already sent) and follows the turn to its end.
   * Never rejects for a failed turn: failures come back as an outcome.
   */
  runTurn(ref: TurnRef, request: TurnRequest, options: RunTurnOptions): Promise<TurnOutcome> {
    // The switched-off tools are rules of the session's ruleset (openTurn): sent again as the
    // prompt's `tools`, they would REPLACE that ruleset (measured on 1.18.33), hard rules included.
    const prompt: TurnRequest = { ...request, disabledTools: undefined };
    return new TurnFollower(this.client, ref, prompt, options, this.timings).run();
  }

  /** Frees the server's instance of a directory no session will use for a while; false when the server refused. */
  async releaseDirectory(directory: string): Promise<boolean> {
    return this.client.disposeInstance(directory).then((done) => done === true);
  }

  async isHealthy(): Promise<boolean> {
    try {
      return (await this.client.health()).healthy === true;
    } catch {
      return false;
    }
  }
}
