import { Module } from '@nestjs/common';
import { OpencodeModule } from '@app/opencode';
import { CODING_AGENT } from './application/ports/coding-agent.port';
import { OpencodeCodingAgent } from './infrastructure/clients/opencode-coding-agent.adapter';

/** Binds the coding-agent port to OpenCode (external, or a managed local server). */
@Module({
  imports: [OpencodeModule],
  providers: [{ provide: CODING_AGENT, useClass: OpencodeCodingAgent }],
  exports: [CODING_AGENT],
})
export class CodingAgentModule {}
