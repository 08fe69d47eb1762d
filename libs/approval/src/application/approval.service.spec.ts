import type { AppConfig } from '@app/config';
import { Logger } from '@nestjs/common';
import { ApprovalProps } from '../domain/approval';
import { ApprovalOutcome, ApprovalStatus } from '../domain/approval-status';
import { ApprovalErrorCode } from '../domain/approval.errors';
import { ApprovalObservers } from './approval-observers';
import { ApprovalService, OpenApprovalRequest } from './approval.service';
import { InMemoryApprovalDecisions, InMemoryApprovalRepository } from '@app/approval/testing';

const SESSION = '00000000-0000-4000-8000-000000000001';

function setup(options: { timeoutSeconds?: number; recheckMs?: number } = {}) {
  const repo = new InMemoryApprovalRepository();
  const decisions = new InMemoryApprovalDecisions();
  const observers = new ApprovalObservers();
  const outcomes: Array<[string, ApprovalOutcome]> = [];
  observers.register({ decided: (a: Readonly<ApprovalProps>, outcome) => outcomes.push([a.id, outcome]) });
  const config = { approvalTimeoutSeconds: options.timeoutSeconds ?? 900 } as AppConfig;
  const service = new ApprovalService(repo, decisions, observers, config, { recheckMs: options.recheckMs ?? 10_000 });
  return { repo, decisions, outcomes, service };
}

const request = (id = 'per_1', attempt = 1): OpenApprovalRequest => ({
  sessionId: SESSION,
  attempt,
  opencodeRequestId: id,
  permission: 'edit',
  patterns: ['a.txt'],
  title: 'edit a.txt',
  metadata: {},
});

describe('ApprovalService', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));
  it('opens one approval per session and OpenCode request, expiring after APPROVAL_TIMEOUT_SECONDS', async () => {
    const { service, repo } = setup({ timeoutSeconds: 120 });
    const now = new Date('2030-01-01T00:00:00Z');
    const first = await service.open(request(), now);
    const again = await service.open(request(), new Date(now.getTime() + 5_000));
    expect(again.id).toBe(first.id);
    expect(first.expiresAt).toEqual(new Date(now.getTime() + 120_000));
    expect(repo.rows.size).toBe(1);
    expect((await service.open(request('per_2'))).id).not.toBe(first.id);
  });

  it('records the answer and the key, announces and counts it once; a second answer is a 409 naming the status', async () => {
    const { service, decisions, outcomes } = setup();
    const opened = await service.open(request());
    const answered = await service.answer(opened.id, { decision: 'allow', remember: true }, { keyId: 'key-1' });
    expect(answered.snapshot()).toMatchObject({ status: 'ALLOWED', remember: true, answeredByKeyId: 'key-1', decidedBy: 'key', version: 2 });
    await expect(service.answer(opened.id, { decision: 'deny' }, { keyId: 'key-2' })).rejects.toMatchObject({
      code: ApprovalErrorCode.APPROVAL_ALREADY_DECIDED,
      message: expect.stringContaining('ALLOWED'),
    });
    expect(outcomes).toEqual([[opened.id, 'allowed']]);
    expect(decisions.published).toEqual([opened.id]);
    await expect(service.answer('00000000-0000-4000-8000-00000000dead', { decision: 'deny' }, { keyId: null })).rejects.toMatchObject({
      code: ApprovalErrorCode.APPROVAL_NOT_FOUND,
    });
  });

  it('wakes the waiter as soon as another process answers', async () => {
    const { service, decisions } = setup({ recheckMs: 60_000 });
    const opened = await service.open(request());
    const waiting = service.awaitDecision(opened.id);
    await until(() => decisions.listening(opened.id) === 1);
    const startedAt = Date.now();
    await service.answer(opened.id, { decision: 'deny' }, { keyId: 'key-1' });
    const decided = await waiting;
    expect(decided.status).toBe(ApprovalStatus.DENIED);
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(decisions.listening(opened.id)).toBe(0);
  });

  it('finds the answer by re-reading when the message is lost (or it cannot listen at all)', async () => {
    for (const fault of ['lose', 'failSubscribe'] as const) {
      const { service, decisions } = setup({ recheckMs: 30 });
      decisions[fault] = true;
      const opened = await service.open(request());
      const waiting = service.awaitDecision(opened.id);
      await new Promise((resolve) => setTimeout(resolve, 10));
      await service.answer(opened.id, { decision: 'allow' }, { keyId: 'key-1' });
      await expect(waiting).resolves.toMatchObject({ status: ApprovalStatus.ALLOWED });
    }
  });

  it('expires at the expiry when nobody answers: denied, recorded, counted', async () => {
    const { service, outcomes } = setup({ timeoutSeconds: 0.05 });
    const opened = await service.open(request());
    const decided = await service.awaitDecision(opened.id);
    expect(decided.snapshot()).toMatchObject({ status: 'EXPIRED', decidedBy: 'timeout', answeredByKeyId: null });
    expect(decided.reply).toBe('reject');
    expect(outcomes).toEqual([[opened.id, 'expired']]);
    await expect(service.answer(opened.id, { decision: 'allow' }, { keyId: 'late' })).rejects.toMatchObject({
      code: ApprovalErrorCode.APPROVAL_ALREADY_DECIDED,
      message: expect.stringContaining('EXPIRED'),
    });
  });

  it('stops waiting when the signal aborts, leaving the decision to the caller, who withdraws it', async () => {
    const { service, outcomes } = setup();
    const opened = await service.open(request());
    const controller = new AbortController();
    const waiting = service.awaitDecision(opened.id, controller.signal);
    controller.abort();
    expect((await waiting).status).toBe(ApprovalStatus.PENDING);
    const cancelled = await service.withdraw(opened.id, { kind: 'cancel' });
    expect(cancelled.snapshot()).toMatchObject({ status: 'CANCELLED', decidedBy: 'session-ended' });
    // Decided already: a withdrawal changes nothing.
    expect((await service.withdraw(opened.id, { kind: 'settled-by-opencode', allowed: true })).status).toBe(ApprovalStatus.CANCELLED);
    expect(outcomes).toEqual([[opened.id, 'cancelled']]);
  });

  it('cancels what a run left pending, and only that run', async () => {
    const { service } = setup();
    const mine = await service.open(request('per_1', 1));
    const decided = await service.open(request('per_2', 1));
    await service.answer(decided.id, { decision: 'allow' }, { keyId: null });
    const nextAttempt = await service.open(request('per_3', 2));
    const cancelled = await service.cancelPendingOfRun({ sessionId: SESSION, attempt: 1 });
    expect(cancelled.map((a) => a.id)).toEqual([mine.id]);
    expect((await service.get(nextAttempt.id)).status).toBe(ApprovalStatus.PENDING);
    expect(await service.cancelPendingOfRun({ sessionId: SESSION, attempt: 1 })).toEqual([]);
  });

  it('sweeps: expires pending approvals past their expiry (their worker is gone), once', async () => {
    const { service, outcomes } = setup({ timeoutSeconds: 60 });
    const now = new Date();
    const old = await service.open(request('per_old'), new Date(now.getTime() - 61_000));
    await service.open(request('per_fresh'), now);
    expect((await service.expireOverdue(now)).map((a) => a.id)).toEqual([old.id]);
    expect(await service.expireOverdue(now)).toEqual([]);
    expect(outcomes).toEqual([[old.id, 'expired']]);
  });

  it('lists pending approvals of the current runs of many sessions in one call', async () => {
    const { service } = setup();
    const a = await service.open(request('per_a', 3));
    await service.open(request('per_old_attempt', 2));
    expect((await service.pendingOfRuns([{ sessionId: SESSION, attempt: 3 }])).map((x) => x.id)).toEqual([a.id]);
    expect(await service.pendingOfRuns([])).toEqual([]);
  });
});

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 1_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
