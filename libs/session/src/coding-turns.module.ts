import { Module } from '@nestjs/common';
import { OpencodeModule } from '@app/opencode';
import { CODING_TURNS } from './application/ports/coding-turns.port';
import { OpencodeCodingTurnsAdapter } from './infrastructure/clients/opencode-coding-turns.adapter';

/** Binds the coding-turns port to OpenCode (external, or a managed local server). */
@Module({
  imports: [OpencodeModule],
  providers: [{ provide: CODING_TURNS, useClass: OpencodeCodingTurnsAdapter }],
  exports: [CODING_TURNS],
})
export class CodingTurnsModule {}
