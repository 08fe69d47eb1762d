import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testGit, testWorkspaces } from '@app/workspace/testing';
import { makeTempWorkspace } from '@app/testing';
import { FakeAgentDirectory, InMemoryHeartbeat, InMemorySessionRepository, outcome, ScriptedCodingTurns, queuedSession } from '@app/session/testing';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { DatabaseWait } from './database-wait';
import type { DatabaseWaitMetricsPort, DatabaseWaitOutcome } from './ports/database-availability.port';
import { RunWatcher } from './run-watcher';
import { SessionExecutionService } from './session-execution.service';
import { WorkspaceLock } from './workplace/workspace-lock';
import { WorktreeSlots } from './workplace/worktree-slots';

/** What the database adapter throws while PostgreSQL is away (the classifier port says so). */
class DatabaseAway extends Error {
  constructor() {
    super('connect ECONNREFUSED 127.0.0.1:5432');
  }
}
const availability = { isUnavailable: (err: unknown) => err instanceof DatabaseAway };
const SHORT_PAUSES = { initialDelayMs: 2, maxDelayMs: 10 };

class RecordedMetrics implements DatabaseWaitMetricsPort {
  readonly events: string[] = [];
  waitStarted(): void {
    this.events.push('started');
  }
  waitEnded(outcome: DatabaseWaitOutcome): void {
    this.events.push(outcome);
  }
}

/**
 * The in-memory repository behind a switch: while `down`, every read and write fails as an
 * unreachable PostgreSQL does. `commitThenFail` makes the next write commit and then fail (its
 * answer lost with the connection).
 */
class SwitchableRepository extends InMemorySessionRepository {
  down = false;
  commitThenFail = false;
  failedTries = 0;

  override async update(session: Session): Promise<void> {
    this.check();
    await super.update(session);
    if (this.commitThenFail) {
      this.commitThenFail = false;
      this.failedTries++;
      throw new DatabaseAway();
    }
  }

  override async findById(id: string, options?: { includeDeleted?: boolean }): Promise<Session | null> {
    this.check();
    return super.findById(id, options);
  }

  private check(): void {
    if (!this.down) return;
    this.failedTries++;
    throw new DatabaseAway();
  }
}

describe('DatabaseWait', () => {
  it('lists a run while it waits and counts how its wait ended', async () => {
    const metrics = new RecordedMetrics();
    const wait = new DatabaseWait(availability, metrics, SHORT_PAUSES);
    let tries = 0;
    const written = wait.write('s1', 'its outcome', 60, async () => {
      if (++tries < 4) throw new DatabaseAway();
      return 'written';
    });
    await new Promise((r) => setImmediate(r));
    expect(wait.waiting()).toEqual([{ sessionId: 's1', what: 'its outcome', since: expect.any(Date) }]);
    await expect(written).resolves.toBe('written');
    expect(wait.waiting()).toEqual([]);
    expect(metrics.events).toEqual(['started', 'recovered']);
  });

  it('stops waiting at shutdown and lets the error through', async () => {
    const metrics = new RecordedMetrics();
    const wait = new DatabaseWait(availability, metrics, { initialDelayMs: 60_000, maxDelayMs: 60_000 });
    const written = wait.write('s1', 'its outcome', 3600, async () => {
      throw new DatabaseAway();
    });
    await new Promise((r) => setImmediate(r));
    wait.beforeApplicationShutdown();
    await expect(written).rejects.toBeInstanceOf(DatabaseAway);
    expect(metrics.events).toEqual(['started', 'gave_up']);
    expect(wait.waiting()).toEqual([]);
  });
});

describe('SessionExecutionService while the database is away', () => {
  const workspace = makeTempWorkspace();
  const workspaces = testWorkspaces();
  const config = AppConfig.with({});
  let repo: SwitchableRepository;
  let metrics: RecordedMetrics;

  function service(turns: ScriptedCodingTurns): SessionExecutionService {
    const locks = new InMemoryLocks();
    const watcher = new RunWatcher(repo, new InMemoryHeartbeat());
    const wait = new DatabaseWait(availability, metrics, SHORT_PAUSES);
    // Positional: the optional ports stay absent, the last parameter is the DatabaseWait.
    return new SessionExecutionService(
      repo, turns, watcher, new WorkspaceLock(locks, workspaces, config), new WorktreeSlots(locks, testGit(), workspaces, config),
      config, new FakeAgentDirectory(), workspaces, null, null, null, null, null, null, wait,
    );
  }

  const queued = (timeoutSeconds = 60) => queuedSession(repo, workspace, timeoutSeconds);
  const job = (s: Session) => ({ sessionId: s.id, attempt: s.attempt });
  const stored = async (s: Session) => (await repo.findById(s.id, { includeDeleted: true }))!.snapshot();

  beforeEach(() => {
    repo = new SwitchableRepository();
    metrics = new RecordedMetrics();
  });

  it('records the outcome of a turn that ended while the database was away, once it is back', async () => {
    const s = await queued();
    const turns = new ScriptedCodingTurns(async () => {
      repo.down = true; // the turn ends during the outage
      setTimeout(() => (repo.down = false), 50);
      return outcome('completed', { summary: 'done' });
    });
    await service(turns).run(job(s));
    expect(repo.failedTries).toBeGreaterThan(1);
    expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, result: { summary: 'done', filesChanged: [] } });
    expect((await repo.events(s.id)).map((e) => e.to)).toEqual([SessionStatus.PENDING, SessionStatus.QUEUED, SessionStatus.RUNNING, SessionStatus.COMPLETED]);
    expect(metrics.events).toEqual(['started', 'recovered']);
  });

  it('reloads after a write whose answer was lost: the outcome is recorded once', async () => {
    const s = await queued();
    const turns = new ScriptedCodingTurns(async () => {
      repo.commitThenFail = true;
      return outcome('completed');
    });
    await service(turns).run(job(s));
    expect((await stored(s)).status).toBe(SessionStatus.COMPLETED);
    expect((await repo.events(s.id)).filter((e) => e.to === SessionStatus.COMPLETED)).toHaveLength(1);
  });

  it("gives up after the session's timeout and lets the job fail", async () => {
    const s = await queued(1);
    const turns = new ScriptedCodingTurns(async () => {
      repo.down = true; // and it stays away
      return outcome('completed');
    });
    await expect(service(turns).run(job(s))).rejects.toBeInstanceOf(DatabaseAway);
    expect(metrics.events).toEqual(['started', 'gave_up']);
    repo.down = false;
    expect((await stored(s)).status).toBe(SessionStatus.RUNNING);
  });

  it('does not wait on an error that is not an outage', async () => {
    const s = await queued();
    const turns = new ScriptedCodingTurns(async () => {
      repo.update = async () => {
        throw new Error('value too long for type character varying(200)');
      };
      return outcome('completed');
    });
    await expect(service(turns).run(job(s))).rejects.toThrow('value too long');
    expect(metrics.events).toEqual([]);
  });
});
