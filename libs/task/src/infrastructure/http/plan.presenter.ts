import { addUsage, TokenUsage } from '@app/shared';
import { PlanDetail } from '../../application/plan.service';
import { Plan } from '../../domain/plan';
import { isFinalTask, TaskStatus } from '../../domain/plan-status';
import { PlanResponseDto, PlanSummaryDto, PlanTaskDto, PlanUsageDto } from './dto/plan.dto';

function usageDto(usage: TokenUsage | null): PlanUsageDto {
  const u = addUsage(usage, null);
  return { ...u, totalTokens: u.inputTokens + u.outputTokens + u.reasoningTokens };
}

export function presentPlanSummary(plan: Plan): PlanSummaryDto {
  const p = plan.snapshot();
  return {
    id: p.id,
    requirement: p.requirement,
    workspace: p.workspace,
    template: p.template,
    createdByKeyId: p.createdByKeyId,
    branch: p.branch && { ...p.branch },
    status: p.status,
    budget: p.budget && { ...p.budget },
    pausedReason: p.pausedReason,
    pausedMessage: p.pausedMessage,
    error: p.error,
    version: p.version,
    createdAt: p.createdAt,
    startedAt: p.startedAt,
    finishedAt: p.finishedAt,
  };
}

/** The integration branch with its head and change totals; a branch deleted by hand shows no head and no changes. */
function presentBranch({ plan, branchChanges }: PlanDetail): PlanResponseDto['branch'] {
  const branch = plan.branch;
  if (!branch) return null;
  return { ...branch, headCommit: branchChanges?.headCommit ?? null, files: branchChanges?.files ?? [], insertions: branchChanges?.insertions ?? 0, deletions: branchChanges?.deletions ?? 0 };
}

export function presentPlan(detail: PlanDetail): PlanResponseDto {
  const { plan, tasks, sessions } = detail;
  const p = plan.snapshot();
  const byStatus = Object.fromEntries(Object.values(TaskStatus).map((s) => [s, 0])) as Record<string, number>;
  let totals: TokenUsage | null = null;
  const taskDtos: PlanTaskDto[] = tasks.map((task) => {
    const t = task.snapshot();
    byStatus[t.status]++;
    let usage: TokenUsage | null = null;
    const sessionDtos = t.sessions.map((ref) => {
      const s = sessions.get(ref.sessionId);
      usage = addUsage(usage, s?.usage ?? null);
      return {
        id: ref.sessionId,
        kind: ref.kind,
        role: ref.role,
        agentId: s?.agentId ?? ref.agentId,
        status: s?.status ?? 'DELETED',
        startedAt: s?.startedAt ?? null,
        finishedAt: s?.finishedAt ?? null,
        usage: s?.usage ? usageDto(s.usage) : null,
        error: s?.error ?? null,
        changes: s?.changes ?? null,
      };
    });
    // A deleted session's usage is gone from the sessions: keep what the task recorded.
    if (sessionDtos.some((s) => s.status === 'DELETED')) usage = t.usage;
    totals = addUsage(totals, usage);
    const schedule = p.analysis.schedule[t.key];
    return {
      key: t.key,
      title: t.title,
      instructions: t.instructions,
      role: t.role,
      skills: t.skills,
      complexity: t.complexity,
      estimateMinutes: t.estimateMinutes,
      dependsOn: t.dependsOn,
      status: t.status,
      attempt: t.attempt,
      sessionId: t.sessionId,
      sessionIds: t.sessions.map((s) => s.sessionId),
      sessions: sessionDtos,
      agentId: t.agentId,
      usage: usageDto(usage),
      result: t.result,
      error: t.error,
      merge: t.merge,
      slack: schedule?.slack ?? 0,
      critical: schedule?.critical ?? false,
      startedAt: t.startedAt,
      finishedAt: t.finishedAt,
      version: t.version,
    };
  });
  const settled = tasks.filter((t) => isFinalTask(t.status)).length;
  return {
    ...presentPlanSummary(plan),
    branch: presentBranch(detail),
    chosenBecause: p.chosenBecause,
    complexity: p.complexity,
    analysis: p.analysis,
    criticalPath: p.analysis.criticalPath,
    maxConcurrentSessions: p.maxParallelTasks,
    progress: { total: tasks.length, byStatus, percent: tasks.length ? Math.floor((100 * settled) / tasks.length) : 100 },
    totals: usageDto(totals),
    spend: { spent: { ...detail.spend.spent }, forecast: { ...detail.spend.forecast }, remaining: detail.spend.remaining && { ...detail.spend.remaining } },
    tasks: taskDtos,
  };
}
