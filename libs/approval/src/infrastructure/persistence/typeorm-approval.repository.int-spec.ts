import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { Approval } from '../../domain/approval';
import { ApprovalStatus } from '../../domain/approval-status';
import { TypeormApprovalRepository } from './typeorm-approval.repository';

const open = (sessionId: string, requestId: string, options: { attempt?: number; now?: Date; timeoutMs?: number } = {}) =>
  Approval.open(
    {
      sessionId,
      attempt: options.attempt ?? 1,
      opencodeRequestId: requestId,
      permission: 'edit',
      patterns: ['src/a.ts'],
      title: 'edit src/a.ts',
      metadata: { filepath: '/ws/src/a.ts', diff: '+x' },
      timeoutMs: options.timeoutMs ?? 60_000,
    },
    options.now,
  );

describe('TypeormApprovalRepository (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let repo: TypeormApprovalRepository;

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    repo = new TypeormApprovalRepository(dataSource);
  });
  afterAll(() => dataSource.destroy());

  it('stores an approval and reads it back as it was', async () => {
    const approval = open(randomUUID(), 'per_roundtrip');
    const stored = await repo.insertOrGet(approval);
    expect(stored.snapshot()).toEqual(approval.snapshot());
    expect((await repo.findById(approval.id))!.snapshot()).toEqual(approval.snapshot());
    expect(await repo.findById(randomUUID())).toBeNull();
  });

  it('keeps one approval per session and OpenCode request, also when two runs insert at once', async () => {
    const sessionId = randomUUID();
    const [a, b] = await Promise.all([repo.insertOrGet(open(sessionId, 'per_same')), repo.insertOrGet(open(sessionId, 'per_same'))]);
    expect(a.id).toBe(b.id);
    const again = await repo.insertOrGet(open(sessionId, 'per_same'));
    expect(again.id).toBe(a.id);
    expect(await repo.list({ sessionId, limit: 10 })).toHaveLength(1);
    // The same request id in another session is another approval.
    expect((await repo.insertOrGet(open(randomUUID(), 'per_same'))).id).not.toBe(a.id);
  });

  it('checks the version: a stale writer gets APPROVAL_VERSION_CONFLICT and writes nothing', async () => {
    const approval = await repo.insertOrGet(open(randomUUID(), 'per_version'));
    const first = (await repo.findById(approval.id))!;
    const second = (await repo.findById(approval.id))!;
    first.answer('allow', { remember: true, keyId: 'key-1' });
    await repo.update(first);
    expect(first.version).toBe(2);
    second.expire();
    await expect(repo.update(second)).rejects.toMatchObject({ code: 'APPROVAL_VERSION_CONFLICT' });
    expect((await repo.findById(approval.id))!.snapshot()).toMatchObject({
      status: ApprovalStatus.ALLOWED,
      remember: true,
      answeredByKeyId: 'key-1',
      decidedBy: 'key',
      version: 2,
    });
  });

  it('lists newest first, by status and session, at most `limit`', async () => {
    const sessionId = randomUUID();
    const t0 = Date.now();
    const old = await repo.insertOrGet(open(sessionId, 'per_l1', { now: new Date(t0 - 2_000) }));
    const mid = await repo.insertOrGet(open(sessionId, 'per_l2', { now: new Date(t0 - 1_000) }));
    const newest = await repo.insertOrGet(open(sessionId, 'per_l3', { now: new Date(t0) }));
    mid.cancel();
    await repo.update(mid);
    expect((await repo.list({ sessionId, limit: 10 })).map((a) => a.id)).toEqual([newest.id, mid.id, old.id]);
    expect((await repo.list({ sessionId, status: ApprovalStatus.PENDING, limit: 10 })).map((a) => a.id)).toEqual([newest.id, old.id]);
    expect((await repo.list({ sessionId, limit: 1 })).map((a) => a.id)).toEqual([newest.id]);
  });

  it('finds the pending approvals of given runs in one query, and only of those attempts', async () => {
    const [s1, s2, s3] = [randomUUID(), randomUUID(), randomUUID()];
    const a = await repo.insertOrGet(open(s1, 'per_r1', { attempt: 2 }));
    await repo.insertOrGet(open(s1, 'per_r0', { attempt: 1 }));
    const b = await repo.insertOrGet(open(s2, 'per_r2'));
    const decided = await repo.insertOrGet(open(s2, 'per_r3'));
    decided.answer('deny', { keyId: null });
    await repo.update(decided);
    await repo.insertOrGet(open(s3, 'per_r4'));
    const found = await repo.findPendingOfRuns([
      { sessionId: s1, attempt: 2 },
      { sessionId: s2, attempt: 1 },
    ]);
    expect(found.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
    expect(await repo.findPendingOfRuns([])).toEqual([]);
  });

  it('finds pending approvals past their expiry, oldest expiry first', async () => {
    const sessionId = randomUUID();
    const now = new Date();
    const overdue = await repo.insertOrGet(open(sessionId, 'per_o1', { now: new Date(now.getTime() - 10_000), timeoutMs: 5_000 }));
    await repo.insertOrGet(open(sessionId, 'per_o2', { now, timeoutMs: 5_000 }));
    const found = (await repo.findOverdue(now, 1_000)).filter((x) => x.sessionId === sessionId);
    expect(found.map((x) => x.id)).toEqual([overdue.id]);
    overdue.expire(now);
    await repo.update(overdue);
    expect((await repo.findOverdue(now, 1_000)).filter((x) => x.sessionId === sessionId)).toEqual([]);
  });
});
