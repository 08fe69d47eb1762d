import { remainingOf, Spend, ZERO_SPEND } from '@app/shared';
import { Agent } from '../../domain/agent';
import { AgentResponseDto } from './dto/agent.dto';

/** An agent as the API shows it, with what it spent this UTC day against its budget. */
export function presentAgent(agent: Agent, spent: Spend = ZERO_SPEND): AgentResponseDto {
  const { binding, capabilities, budget, ...rest } = agent.snapshot();
  return {
    ...rest,
    readOnly: agent.readOnly,
    capabilities: capabilities.map((c) => ({ ...c })),
    binding: { ...binding, disabledTools: [...binding.disabledTools], permissions: { ...binding.permissions }, fallbackModels: [...binding.fallbackModels] },
    budget,
    spendToday: { spent: { ...spent }, remaining: remainingOf(budget, spent) },
  };
}
