import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace, testOpencodeClient, waitFor } from '@app/testing';
import { OpencodeTurnRunner, TurnPermissionRequest, TurnRequest } from '@app/opencode';

/** A workspace whose own opencode.json makes OpenCode ask before any edit. */
const askingWorkspace = () => makeTempWorkspace({ files: { 'opencode.json': JSON.stringify({ permission: { edit: 'ask' } }) } });

/**
 * Permission requests of a real OpenCode server (rehearsal provider): the follower hands each to
 * onPermission and answers OpenCode with the reply, for the turn's session and its subagents.
 */
describe('OpencodeTurnRunner: permission requests on a real OpenCode server', () => {
  const client = testOpencodeClient();
  const runner = new OpencodeTurnRunner(client, { reconcileIntervalMs: 1_000, abortSettleMs: 3_000 });

  const request = (workspace: string, prompt: string): TurnRequest => ({ workspace, title: 'permissions', prompt, agent: 'build' });

  it('asks before the write, and writes once allowed', async () => {
    const workspace = askingWorkspace();
    const asked: TurnPermissionRequest[] = [];
    const turn = request(workspace, '[[write a.txt]]hi[[/write]]');
    const ref = await runner.openTurn(turn);
    const outcome = await runner.runTurn(ref, turn, {
      signal: new AbortController().signal,
      onPermission: async (permission) => {
        asked.push(permission);
        // Nothing written while OpenCode waits for the answer.
        expect(existsSync(join(workspace, 'a.txt'))).toBe(false);
        return 'once';
      },
    });
    expect(outcome).toMatchObject({ status: 'completed', filesChanged: ['a.txt'] });
    expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('hi');
    expect(asked).toEqual([
      {
        requestId: expect.stringMatching(/^per_/),
        opencodeSessionId: ref.opencodeSessionId,
        permission: 'edit',
        patterns: [expect.stringMatching(/a\.txt$/)],
        title: 'edit a.txt',
        metadata: expect.objectContaining({ filepath: join(workspace, 'a.txt'), diff: expect.stringContaining('+hi') }),
      },
    ]);
  });

  it('rejects without a handler: nothing is written, the turn fails PERMISSION_DENIED, nothing stays pending', async () => {
    const workspace = askingWorkspace();
    const turn = request(workspace, '[[write a.txt]]hi[[/write]]');
    const outcome = await runner.runTurn(await runner.openTurn(turn), turn, { signal: new AbortController().signal });
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'PERMISSION_DENIED', message: expect.stringContaining('edit a.txt') } });
    expect(existsSync(join(workspace, 'a.txt'))).toBe(false);
    expect(await client.pendingPermissions(workspace)).toEqual([]);
  });

  it("hands a subagent's request to the same handler", async () => {
    const workspace = askingWorkspace();
    const asked: TurnPermissionRequest[] = [];
    const turn = request(workspace, '[[task]][[write sub.txt]]from the subagent[[/write]][[/task]]');
    const ref = await runner.openTurn(turn);
    const outcome = await runner.runTurn(ref, turn, {
      signal: new AbortController().signal,
      onPermission: async (permission) => {
        asked.push(permission);
        return 'once';
      },
    });
    expect(outcome.status).toBe('completed');
    expect(asked).toEqual([expect.objectContaining({ permission: 'edit', title: 'edit sub.txt' })]);
    expect(asked[0].opencodeSessionId).not.toBe(ref.opencodeSessionId);
    expect(readFileSync(join(workspace, 'sub.txt'), 'utf8')).toBe('from the subagent');
  });

  it('withdraws an unanswered request when the turn is aborted, and refuses it on OpenCode', async () => {
    const workspace = askingWorkspace();
    const controller = new AbortController();
    const turn = request(workspace, '[[write a.txt]]hi[[/write]]');
    let withdrawn: unknown;
    const outcome = await runner.runTurn(await runner.openTurn(turn), turn, {
      signal: controller.signal,
      onPermission: (_permission, signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            withdrawn = signal.reason;
            resolve('once');
          });
          controller.abort();
        }),
    });
    expect(outcome.status).toBe('aborted');
    expect(withdrawn).toEqual({ kind: 'turn-ended' });
    expect(existsSync(join(workspace, 'a.txt'))).toBe(false);
    // OpenCode keeps a request pending after an abort: the follower refused it.
    await waitFor(() => client.pendingPermissions(workspace), (pending) => pending.length === 0, {
      timeoutMs: 5_000,
      what: 'no pending permission request',
    });
  });
});
