import { Agent } from '../../domain/agent';
import { AgentResponseDto } from './dto/agent.dto';

export function presentAgent(agent: Agent): AgentResponseDto {
  const { binding, capabilities, ...rest } = agent.snapshot();
  return {
    ...rest,
    readOnly: agent.readOnly,
    capabilities: capabilities.map((c) => ({ ...c })),
    binding: { ...binding, disabledTools: [...binding.disabledTools], permissions: { ...binding.permissions } },
  };
}
