import { Injectable, Logger } from '@nestjs/common';
import { Agent, AgentRole, AgentService, parseReviewVerdict } from '@app/agent';
import {
  AgentChoice,
  AgentChoiceRequest,
  AgentDirectoryPort,
  AgentRunReport,
} from '../../application/ports/agent-directory.port';

/** The session context's view of the agent context: routing, and performance records. */
@Injectable()
export class AgentServiceDirectory implements AgentDirectoryPort {
  private readonly logger = new Logger(AgentServiceDirectory.name);

  constructor(private readonly agents: AgentService) {}

  async choose(request: AgentChoiceRequest): Promise<AgentChoice> {
    if (request.agentId) return toChoice(await this.agents.getEnabled(request.agentId), null);
    const work = { role: request.role as AgentRole | undefined, skills: request.skills, complexity: request.complexity };
    const { agent, ranked } = await this.agents.pickRanked(work);
    return toChoice(agent, ranked.score);
  }

  async recordRun(report: AgentRunReport): Promise<void> {
    await this.agents.recordRun({
      agentId: report.agentId,
      sessionId: report.sessionId,
      attempt: report.attempt,
      outcome: report.outcome,
      durationMs: report.durationMs,
      inputTokens: report.inputTokens,
      outputTokens: report.outputTokens,
      costUsd: report.costUsd,
      qualityScore: null,
      finishedAt: report.finishedAt,
    });
    if (!report.reviewOf || report.outcome !== 'COMPLETED') return;
    const verdict = parseReviewVerdict(report.resultText);
    if (!verdict) {
      this.logger.warn(`Review session ${report.sessionId} ended without a VERDICT/QUALITY answer; no quality score recorded`);
      return;
    }
    const credited = await this.agents.recordQuality(report.reviewOf, verdict.quality);
    if (!credited) this.logger.warn(`Reviewed session ${report.reviewOf} has no recorded run; its quality score ${verdict.quality}/10 was not kept`);
  }
}

function toChoice(agent: Agent, score: number | null): AgentChoice {
  const b = agent.binding;
  return {
    agentId: agent.id,
    agentName: agent.name,
    role: agent.role,
    opencodeAgent: b.opencodeAgent,
    model: b.model,
    systemInstructions: b.systemInstructions,
    disabledTools: [...b.disabledTools],
    readOnly: agent.readOnly,
    permissions: { ...b.permissions },
    fallbackModels: [...(b.fallbackModels ?? [])],
    maxSteps: b.maxSteps ?? null,
    score,
  };
}
