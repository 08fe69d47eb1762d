import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { SessionRecoveryService } from './session-recovery.service';
import { FakeApprovalGate, FakeQueue, InMemoryHeartbeat, InMemorySessionRepository } from '@app/session/testing';

describe('SessionRecoveryService: approvals whose worker died', () => {
  const config = AppConfig.with({ WORKER_LEASE_SECONDS: '1' });
  let repo: InMemorySessionRepository;
  let gate: FakeApprovalGate;
  let recovery: SessionRecoveryService;

  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));
  beforeEach(() => {
    repo = new InMemorySessionRepository();
    gate = new FakeApprovalGate();
    recovery = new SessionRecoveryService(repo, new FakeQueue(), new InMemoryHeartbeat(), config, gate);
  });

  async function running(): Promise<Session> {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60 });
    await repo.insert(s);
    s.queue();
    s.markRunning();
    await repo.update(s);
    return s;
  }
  const ask = (s: Session, requestId: string) =>
    gate.open({ sessionId: s.id, attempt: s.attempt, requestId, permission: 'edit', patterns: ['a.txt'], title: 'edit a.txt', metadata: {} });

  it('cancels the pending approvals of a run it fails WORKER_LOST', async () => {
    const s = await running();
    const pending = await ask(s, 'per_1');
    expect(await recovery.failLostRun(s.id, s.attempt, 'failed')).toBe(true);
    expect((await repo.findById(s.id))!.snapshot().error?.code).toBe('WORKER_LOST');
    expect(gate.approvals.get(pending.id)).toMatchObject({ status: 'CANCELLED', decidedBy: 'session-ended' });
  });

  it('expires, at every sweep, pending approvals past their expiry that no worker waits for', async () => {
    const s = await running();
    const overdue = await ask(s, 'per_old');
    gate.approvals.set(overdue.id, { ...gate.approvals.get(overdue.id)!, expiresAt: new Date(Date.now() - 1) });
    const fresh = await ask(s, 'per_new');
    // The session's worker is alive: the session is left alone, the overdue approval is not.
    const alive = new InMemoryHeartbeat();
    await alive.beat([s.id], 60_000);
    recovery = new SessionRecoveryService(repo, new FakeQueue(), alive, config, gate);
    await recovery.sweep(new Date(Date.now() + 5_000));
    expect(gate.sweeps).toBe(1);
    expect(gate.approvals.get(overdue.id)).toMatchObject({ status: 'EXPIRED', decidedBy: 'timeout' });
    expect(gate.approvals.get(fresh.id)?.status).toBe('PENDING');
    expect((await repo.findById(s.id))!.status).toBe(SessionStatus.RUNNING);
  });
});
