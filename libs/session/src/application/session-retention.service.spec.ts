import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { ZERO_USAGE } from '@app/shared';
import { InMemorySessionRepository } from '@app/session/testing';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import type { SessionRetentionKind, SessionRetentionMetricsPort } from './ports/retention-metrics.port';
import { SESSION_RETENTION_MAX_BATCHES, SessionRetentionService } from './session-retention.service';

const DAY = 24 * 3600_000;
const NOW = new Date('2030-06-30T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);

class CountingMetrics implements SessionRetentionMetricsPort {
  readonly counts: Array<[SessionRetentionKind, number]> = [];
  pruned(kind: SessionRetentionKind, count: number): void {
    this.counts.push([kind, count]);
  }
}

describe('SessionRetentionService', () => {
  let repo: InMemorySessionRepository;
  let metrics: CountingMetrics;
  const service = (env: Record<string, string>) => new SessionRetentionService(repo, AppConfig.with(env), metrics);

  async function finished(finishedAt: Date, summary = 'a long answer') {
    const s = Session.create({ title: 't', prompt: 'the prompt', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60 }, finishedAt);
    s.queue(finishedAt);
    s.markRunning(finishedAt);
    s.complete({ summary, filesChanged: ['a.ts'] }, { ...ZERO_USAGE, costUsd: 0.5 }, finishedAt);
    await repo.insert(s);
    return s.id;
  }

  async function running(startedAt: Date) {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60 }, startedAt);
    s.queue(startedAt);
    s.markRunning(startedAt);
    await repo.insert(s);
    return s.id;
  }

  let logged: jest.SpyInstance;

  beforeEach(() => {
    repo = new InMemorySessionRepository();
    metrics = new CountingMetrics();
    logged = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => logged.mockRestore());

  it('empties the output text of sessions finished before RETENTION_DAYS, in batches, and keeps everything else', async () => {
    const old = [await finished(daysAgo(40)), await finished(daysAgo(35)), await finished(daysAgo(31)), await finished(daysAgo(30.5)), await finished(daysAgo(30.1))];
    const recent = await finished(daysAgo(29));
    const live = await running(daysAgo(60));

    const report = await service({ RETENTION_DAYS: '30', RETENTION_BATCH_SIZE: '2' }).prune(NOW);

    expect(report).toEqual({ cutoff: daysAgo(30), sessionOutputs: 5, complete: true });
    expect(logged.mock.calls).toEqual([['Retention: emptied the output text of 5 session(s) finished before 2030-05-31T12:00:00.000Z']]);
    // Batches of 2: 2 + 2 + 1 (the short batch says nothing is left).
    expect(metrics.counts).toEqual([['session_outputs', 2], ['session_outputs', 2], ['session_outputs', 1]]);
    for (const id of old) {
      expect(repo.rows.get(id)).toMatchObject({
        status: SessionStatus.COMPLETED,
        result: { summary: '', filesChanged: ['a.ts'] },
        usage: { costUsd: 0.5 },
        prompt: 'the prompt',
        prunedAt: NOW,
      });
    }
    expect(repo.rows.get(recent)).toMatchObject({ result: { summary: 'a long answer' }, prunedAt: null });
    expect(repo.rows.get(live)).toMatchObject({ status: SessionStatus.RUNNING, prunedAt: null });
    expect((await repo.events(old[0])).map((e) => e.to)).toEqual([SessionStatus.PENDING, SessionStatus.QUEUED, SessionStatus.RUNNING, SessionStatus.COMPLETED]);
  });

  it('prunes a session once: a second run finds nothing', async () => {
    const id = await finished(daysAgo(40));
    await service({ RETENTION_DAYS: '30' }).prune(NOW);
    const version = repo.rows.get(id)!.version;
    expect(await service({ RETENTION_DAYS: '30' }).prune(NOW)).toMatchObject({ sessionOutputs: 0, complete: true });
    expect(repo.rows.get(id)!.version).toBe(version);
  });

  it('stops at its batch cap and says more is due', async () => {
    for (let i = 0; i < SESSION_RETENTION_MAX_BATCHES + 5; i++) await finished(daysAgo(40 + i / 100));
    const report = await service({ RETENTION_DAYS: '30', RETENTION_BATCH_SIZE: '1' }).prune(NOW);
    expect(report).toMatchObject({ sessionOutputs: SESSION_RETENTION_MAX_BATCHES, complete: false });
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/^Retention: emptied the output text of 100 session\(s\) .*; more are due, the next run goes on$/));
    expect([...repo.rows.values()].filter((r) => r.prunedAt === null)).toHaveLength(5);
  });

  it('stops between batches when the process shuts down', async () => {
    for (let i = 0; i < 4; i++) await finished(daysAgo(40 + i));
    const stop = new AbortController();
    const prune = repo.pruneFinished.bind(repo);
    repo.pruneFinished = async (...args) => {
      const pruned = await prune(...args);
      stop.abort();
      return pruned;
    };
    expect(await service({ RETENTION_DAYS: '30', RETENTION_BATCH_SIZE: '1' }).prune(NOW, stop.signal)).toMatchObject({ sessionOutputs: 1, complete: false });
  });

  it('prunes nothing with RETENTION_DAYS=0', async () => {
    const id = await finished(daysAgo(3650));
    expect(await service({ RETENTION_DAYS: '0' }).prune(NOW)).toEqual({ cutoff: null, sessionOutputs: 0, complete: true });
    expect(repo.rows.get(id)).toMatchObject({ result: { summary: 'a long answer' }, prunedAt: null });
    expect(metrics.counts).toEqual([]);
    expect(logged).not.toHaveBeenCalled();
  });

  it('gives a retried session a clean slate: its new attempt is pruned again once it finishes', async () => {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60 }, daysAgo(50));
    s.queue(daysAgo(50));
    s.markRunning(daysAgo(50));
    s.fail({ code: 'OPENCODE_ERROR', message: 'x' }, null, daysAgo(50), { summary: 'partial', filesChanged: [] });
    await repo.insert(s);
    await service({ RETENTION_DAYS: '30' }).prune(NOW);
    const pruned = (await repo.findById(s.id))!;
    expect(pruned.snapshot().prunedAt).toEqual(NOW);
    pruned.retry(NOW);
    await repo.update(pruned);
    expect(repo.rows.get(s.id)).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2, prunedAt: null, result: null });
  });
});
