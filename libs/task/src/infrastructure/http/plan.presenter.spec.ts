import { analyseComplexity } from '../../domain/complexity';
import { analysePlan } from '../../domain/dag';
import { Plan, PlanTask } from '../../domain/plan';
import type { TaskSpec } from '../../domain/task-spec';
import type { TaskSessionView } from '../../application/ports/task-sessions.port';
import { presentPlan, presentPlanSummary } from './plan.presenter';

const spec: TaskSpec = { key: 'a', title: 'do a', instructions: 'i', role: 'IMPLEMENTER', skills: [], complexity: 3, estimateMinutes: 10, dependsOn: [] };
const branch = { name: 'orchestrator/plan-1234abcd', repository: '/srv/repo', baseCommit: 'base' };
const changes = { branch: 'orchestrator/00000001-a', baseCommit: 'base', headCommit: 'head', files: ['a.ts'], insertions: 3, deletions: 1 };

function runPlan(): { plan: Plan; task: PlanTask; session: TaskSessionView } {
  const plan = Plan.create({
    requirement: 'r',
    workspace: '/srv/repo',
    template: null,
    chosenBecause: 'given',
    complexity: analyseComplexity('r'),
    analysis: analysePlan([spec], { agents: 1 }),
    maxParallelTasks: 1,
  });
  plan.start(branch);
  const task = PlanTask.create(plan.id, spec, 0);
  const session: TaskSessionView = {
    id: 's-1',
    status: 'COMPLETED',
    attempt: 1,
    agentId: 'agent',
    prompt: 'p',
    result: null,
    usage: null,
    error: null,
    startedAt: null,
    finishedAt: null,
    changes,
  };
  task.attachSession({ sessionId: 's-1', kind: 'TASK', role: 'IMPLEMENTER', agentId: 'agent', createdAt: new Date() });
  task.awaitMerge(null, null, new Date(1000));
  return { plan, task, session };
}

const spend = { spent: { tokens: 0, costUsd: 0, minutes: 0 }, forecast: { tokens: 0, costUsd: 0, minutes: 0 }, remaining: null };

describe('plan presenter', () => {
  it("shows the integration branch with its head and the totals of its changes, each task's merge and each session's branch", () => {
    const { plan, task, session } = runPlan();
    const dto = presentPlan({ plan, tasks: [task], sessions: new Map([[session.id, session]]), branchChanges: { headCommit: 'h2', files: ['a.ts', 'b.ts'], insertions: 7, deletions: 2 }, spend });
    expect(dto.branch).toEqual({ ...branch, headCommit: 'h2', files: ['a.ts', 'b.ts'], insertions: 7, deletions: 2 });
    expect(dto.tasks[0]).toMatchObject({ status: 'MERGING', merge: { source: 's-1', queuedAt: new Date(1000), conflicts: [], commit: null } });
    expect(dto.tasks[0].sessions[0]).toMatchObject({ kind: 'TASK', changes });
    expect(dto.progress.byStatus).toMatchObject({ MERGING: 1, RESOLVING: 0, CONFLICTED: 0 });
    expect(presentPlanSummary(plan).branch).toEqual(branch);
  });

  it('shows a branch deleted by hand without head or changes, and no branch for a plan sharing its workspace', () => {
    const { plan, task } = runPlan();
    expect(presentPlan({ plan, tasks: [task], sessions: new Map(), branchChanges: null, spend }).branch).toEqual({ ...branch, headCommit: null, files: [], insertions: 0, deletions: 0 });
    const draft = Plan.restore({ ...plan.snapshot(), branch: null });
    expect(presentPlan({ plan: draft, tasks: [], sessions: new Map(), branchChanges: null, spend }).branch).toBeNull();
  });
});
