import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testGit, testWorkspaces } from '@app/workspace/testing';
import { FakeAgentDirectory, InMemoryHeartbeat, InMemorySessionRepository, outcome, ScriptedCodingTurns } from '@app/session/testing';
import { makeTempWorkspace } from '@app/testing';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import type { CapacityAdmission, ProviderCapacityPort } from './ports/provider-capacity.port';
import { RunWatcher } from './run-watcher';
import { SessionExecutionService } from './session-execution.service';
import { WorkspaceLock } from './workplace/workspace-lock';
import { WorktreeSlots } from './workplace/worktree-slots';

/** Provider capacity as the run sees it: a scripted admission, marked models, what was asked. */
class FakeCapacity implements ProviderCapacityPort {
  readonly marked = new Set<string>();
  readonly admitted: string[] = [];
  readonly released: string[] = [];
  deny?: Extract<CapacityAdmission, { admitted: false }>;
  full = new Set<string>();

  async admit({ sessionId, model }: { sessionId: string; model: string }): Promise<CapacityAdmission> {
    if (this.marked.has(model)) {
      return { admitted: false, reason: 'unavailable', rule: model, retryInMs: 3_600_000, message: `${model} is unavailable (quota exhausted)` };
    }
    if (this.deny) return this.deny;
    if (this.full.has(model)) return { admitted: false, reason: 'concurrency', rule: model, retryInMs: 500, message: `${model} is full` };
    this.admitted.push(model);
    return { admitted: true, permit: { sessionId, model, rules: ['*'] } };
  }
  async renew(): Promise<void> {}
  async release(permit: { model: string }): Promise<void> {
    this.released.push(permit.model);
  }
  async recordStep(): Promise<void> {}
  async rateLimited(): Promise<number> {
    return 1_000;
  }
  async quotaExhausted(model: string): Promise<Date> {
    this.marked.add(model);
    return new Date(Date.now() + 3_600_000);
  }
  async usable(models: string[]): Promise<string[]> {
    return models.filter((m) => !this.marked.has(m));
  }
}

describe('SessionExecutionService with provider capacity', () => {
  const workspace = makeTempWorkspace();
  const workspaces = testWorkspaces();
  const config = AppConfig.with({});
  let repo: InMemorySessionRepository;
  let capacity: FakeCapacity;

  function worker(turns: ScriptedCodingTurns) {
    const locks = new InMemoryLocks();
    const watcher = new RunWatcher(repo, new InMemoryHeartbeat());
    const slots = new WorktreeSlots(locks, testGit(), workspaces, config);
    const agents = new FakeAgentDirectory();
    return new SessionExecutionService(repo, turns, watcher, new WorkspaceLock(locks, workspaces, config), slots, config, agents, workspaces, null, null, null, null, capacity);
  }

  async function queued(options: { timeoutSeconds?: number; fallbackModels?: string[] } = {}): Promise<Session> {
    const assignment = options.fallbackModels
      ? {
          agentId: '00000000-0000-4000-a000-000000000001',
          agentName: 'impl',
          role: 'IMPLEMENTER',
          systemInstructions: '',
          disabledTools: [],
          readOnly: false,
          permissions: {},
          routing: { requestedRole: null, skills: [], complexity: 5, score: null },
          reviewOf: null,
          fallbackModels: options.fallbackModels,
          maxSteps: null,
        }
      : null;
    const s = Session.create({ title: 't', prompt: 'p', workspace, opencodeAgent: 'build', model: 'p/primary', assignment, timeoutSeconds: options.timeoutSeconds ?? 60 });
    await repo.insert(s);
    s.queue();
    await repo.update(s);
    return s;
  }
  const stored = async (s: Session) => (await repo.findById(s.id))!.snapshot();
  const job = (s: Session) => ({ sessionId: s.id, attempt: s.attempt });

  beforeEach(() => {
    repo = new InMemorySessionRepository();
    capacity = new FakeCapacity();
  });

  it('gives its worker back when its model is at its limit: QUEUED, no turn, a wait', async () => {
    capacity.deny = { admitted: false, reason: 'concurrency', rule: 'p/*', retryInMs: 750, message: 'p/* allows 1 turn(s) at once' };
    const turns = new ScriptedCodingTurns(async () => outcome('completed'));
    const s = await queued();
    expect(await worker(turns).run(job(s))).toEqual({ waitMs: 750 });
    expect(await stored(s)).toMatchObject({ status: SessionStatus.QUEUED, attempt: 1, opencodeSessionId: null });
    expect(turns.opened).toBe(0);
  });

  it('times a session out when its wait for capacity would pass its timeout', async () => {
    capacity.deny = { admitted: false, reason: 'rpm', rule: 'p/*', retryInMs: 5_000, message: 'p/* allows 10 requests a minute' };
    const s = await queued({ timeoutSeconds: 2 });
    expect(await worker(new ScriptedCodingTurns(async () => outcome('completed'))).run(job(s))).toEqual({});
    expect(await stored(s)).toMatchObject({ status: SessionStatus.TIMED_OUT, error: { code: 'TIMED_OUT' } });
    expect((await stored(s)).error?.message).toContain('capacity on p/primary');
  });

  it('fails at once, before any turn, when every model it may use is out of quota', async () => {
    capacity.marked.add('p/primary');
    const s = await queued();
    await worker(new ScriptedCodingTurns(async () => outcome('completed'))).run(job(s));
    expect(await stored(s)).toMatchObject({ status: SessionStatus.FAILED, opencodeSessionId: null, error: { code: 'PROVIDER_QUOTA_EXHAUSTED' } });
    expect((await stored(s)).error?.message).toContain('no fallback model');
  });

  it('moves a run whose quota ran out to its agent\'s fallback model, same attempt, and completes there', async () => {
    let runs = 0;
    const turns: ScriptedCodingTurns = new ScriptedCodingTurns(async () =>
      ++runs === 1 ? outcome('failed', { error: { code: 'PROVIDER_QUOTA_EXHAUSTED', message: 'insufficient_quota' } }) : outcome('completed'),
    );
    const s = await queued({ fallbackModels: ['p/fallback'] });
    const service = worker(turns);
    expect(await service.run(job(s))).toEqual({ waitMs: 0 });
    expect(await stored(s)).toMatchObject({ status: SessionStatus.QUEUED, attempt: 1, modelUsed: 'p/primary' });
    expect(capacity.marked.has('p/primary')).toBe(true);
    await service.run(job(s));
    expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, attempt: 1, model: 'p/primary', modelUsed: 'p/fallback' });
    expect(turns.runs.map((r) => r.request.model)).toEqual(['p/primary', 'p/fallback']);
    expect(capacity.released).toEqual(['p/primary', 'p/fallback']);
  });

  it('runs on the next fallback model with room when the primary is saturated', async () => {
    capacity.full = new Set(['p/primary']);
    const turns = new ScriptedCodingTurns(async () => outcome('completed'));
    const s = await queued({ fallbackModels: ['p/fallback'] });
    await worker(turns).run(job(s));
    expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, modelUsed: 'p/fallback' });
    expect(turns.runs[0].request.model).toBe('p/fallback');
  });

  it('fails with PROVIDER_QUOTA_EXHAUSTED when the quota runs out and no fallback is usable', async () => {
    const turns = new ScriptedCodingTurns(async () => outcome('failed', { error: { code: 'PROVIDER_QUOTA_EXHAUSTED', message: 'insufficient_quota' } }));
    const s = await queued();
    await worker(turns).run(job(s));
    expect(await stored(s)).toMatchObject({ status: SessionStatus.FAILED, error: { code: 'PROVIDER_QUOTA_EXHAUSTED' } });
  });
});
