import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace, rehearsalRequests, testOpencodeClient, waitFor } from '@app/testing';
import { newOpencodeMessageId, OpencodeTurnRunner, TurnProgress, TurnRequest } from '@app/opencode';

describe('OpencodeTurnRunner on a real OpenCode server (rehearsal provider)', () => {
  const client = testOpencodeClient();
  const runner = new OpencodeTurnRunner(client, { reconcileIntervalMs: 1_000, abortSettleMs: 3_000 });

  function turnRequest(prompt: string, extra: Partial<TurnRequest> = {}): TurnRequest {
    return { workspace: extra.workspace ?? makeTempWorkspace(), title: 'integration test', prompt, agent: 'build', ...extra };
  }

  async function runTurn(request: TurnRequest, signal = new AbortController().signal) {
    const progress: TurnProgress[] = [];
    const ref = await runner.openTurn(request);
    const startedAt = Date.now();
    const outcome = await runner.runTurn(ref, request, { signal, onProgress: (p) => progress.push(p) });
    return { ref, request, outcome, progress, elapsedMs: Date.now() - startedAt };
  }

  it('lets OpenCode write files through its write tool and reports a completed turn (git work tree)', async () => {
    const workspace = makeTempWorkspace({ git: true });
    const prompt = 'Create two files\n[[write src/hello.txt]]Hello, world!\n[[/write]][[write notes.md]]# Notes\n[[/write]]';
    const { outcome, progress } = await runTurn(turnRequest(prompt, { workspace }));

    expect(outcome).toMatchObject({ status: 'completed', summary: 'Wrote src/hello.txt, notes.md' });
    expect(outcome.error).toBeUndefined();
    expect(outcome.filesChanged).toEqual(['notes.md', 'src/hello.txt']);
    expect(readFileSync(join(workspace, 'src/hello.txt'), 'utf8')).toBe('Hello, world!\n');
    expect(readFileSync(join(workspace, 'notes.md'), 'utf8')).toBe('# Notes\n');
    expect(outcome.usage.inputTokens).toBeGreaterThan(0);
    expect(outcome.usage.outputTokens).toBeGreaterThan(0);
    expect(outcome.usage.costUsd).toBeGreaterThan(0);
    expect(progress).toContainEqual({
      kind: 'tool',
      detail: expect.objectContaining({ tool: 'write', status: 'completed', input: 'src/hello.txt', title: expect.any(String) }),
    });
    const files = progress.flatMap((p) => (p.kind === 'files' ? [p.detail] : []));
    expect(files.flatMap((f) => f.latest).sort()).toEqual(['notes.md', 'src/hello.txt']);
    expect(files.at(-1)?.files).toEqual(['notes.md', 'src/hello.txt']);
    const text = progress.flatMap((p) => (p.kind === 'text' ? [p.detail.delta] : [])).join('');
    expect(text).toBe(outcome.summary);
    // A tool call is reported at each change of status, ending completed.
    const tools = progress.flatMap((p) => (p.kind === 'tool' ? [p.detail] : []));
    const notes = tools.find((t) => t.input === 'notes.md')!;
    expect(tools.filter((t) => t.callId === notes.callId).map((t) => t.status)).toEqual(['pending', 'running', 'completed']);
    expect(progress.at(-1)).toEqual({ kind: 'activity', detail: { state: 'idle' } });
  });

  it('reports written files from the tool parts when the workspace is not a git work tree', async () => {
    const { outcome } = await runTurn(turnRequest('[[write deep/a.txt]]A[[/write]]'));
    expect(outcome).toMatchObject({ status: 'completed', filesChanged: ['deep/a.txt'] });
  });

  it('fails fast with PROVIDER_ERROR and the provider message on a non-retryable provider error', async () => {
    const { outcome, elapsedMs } = await runTurn(turnRequest('[[fail: boom]]'));
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toEqual({ code: 'PROVIDER_ERROR', message: expect.stringContaining('boom') });
    expect(elapsedMs).toBeLessThan(10_000);
  });

  it('counts OpenCode retries of a failing provider and stops the turn past the limit', async () => {
    // OpenCode alone would retry an HTTP 500 for about a minute.
    const impatient = new OpencodeTurnRunner(client, { maxProviderRetries: 0 });
    const request = turnRequest('[[fail-retryable: overloaded]]');
    const progress: TurnProgress[] = [];
    const ref = await impatient.openTurn(request);
    const outcome = await impatient.runTurn(ref, request, { signal: new AbortController().signal, onProgress: (p) => progress.push(p) });

    expect(outcome.status).toBe('failed');
    expect(outcome.error).toEqual({ code: 'PROVIDER_ERROR', message: expect.stringContaining('overloaded') });
    expect(progress).toContainEqual({ kind: 'activity', detail: expect.objectContaining({ state: 'retry', retryAttempt: 1 }) });
    await waitFor(() => client.sessionStatus(request.workspace), (statuses) => !statuses[ref.opencodeSessionId], {
      timeoutMs: 5_000,
      what: 'the session to stop retrying',
    });
  });

  it('aborts a running turn through the signal within a few seconds', async () => {
    const controller = new AbortController();
    const request = turnRequest('[[slow 20]] take your time');
    const ref = await runner.openTurn(request);
    let abortedAt = 0;
    const outcome = await runner.runTurn(ref, request, {
      signal: controller.signal,
      onProgress: (p) => {
        // Abort once the model is visibly streaming.
        if (p.kind === 'text' && !abortedAt) {
          abortedAt = Date.now();
          controller.abort();
        }
      },
    });
    expect(abortedAt).toBeGreaterThan(0);
    expect(Date.now() - abortedAt).toBeLessThan(5_000);
    expect(outcome.status).toBe('aborted');
    expect(outcome.error?.code).toBe('ABORTED');
  });

  it('resumes a finished turn: same outcome, nothing sent again', async () => {
    const marker = `resume-${newOpencodeMessageId()}`;
    const request = turnRequest(`${marker}\n[[write r.txt]]resumed[[/write]]`);
    const first = await runTurn(request);
    const sentBefore = (await rehearsalRequests(marker)).length;

    const again = await runner.runTurn(first.ref, request, { signal: new AbortController().signal, resume: true });

    expect(again).toEqual(first.outcome);
    expect((await rehearsalRequests(marker)).length).toBe(sentBefore);
    const messages = await client.messages(request.workspace, first.ref.opencodeSessionId);
    expect(messages.filter((m) => m.info.role === 'user')).toHaveLength(1);
  });

  it('reports a session the server does not know as lost', async () => {
    const request = turnRequest('anything');
    const ref = { opencodeSessionId: 'ses_0000000000000000000000000', messageId: newOpencodeMessageId() };
    for (const resume of [false, true]) {
      const outcome = await runner.runTurn(ref, request, { signal: new AbortController().signal, resume });
      expect(outcome).toMatchObject({ status: 'lost', error: { code: 'OPENCODE_SESSION_LOST' } });
    }
  });

  it('sends the system text, and switches tools off, for the turn only', async () => {
    const withSystem = await runTurn(turnRequest('[[expect-system Always answer in French.]] hi', { system: 'Always answer in French.' }));
    expect(withSystem.outcome.status).toBe('completed');

    const without = await runTurn(turnRequest('[[expect-system Always answer in French.]] hi'));
    expect(without.outcome.error).toEqual({ code: 'PROVIDER_ERROR', message: expect.stringContaining('expected system text not found') });

    const noWriteMarker = `no-write-${newOpencodeMessageId()}`;
    const noWrite = await runTurn(turnRequest(`${noWriteMarker}\n[[write x.txt]]x[[/write]]`, { disabledTools: ['write'] }));
    expect(noWrite.outcome).toMatchObject({ status: 'completed', filesChanged: [] });
    const last = (await rehearsalRequests(noWriteMarker)).at(-1);
    expect(last?.tools?.map((t) => t.function?.name)).not.toContain('write');
    // Switched off by the session's rules, which the prompt left in place (a prompt's `tools` map would replace them).
    const session = await client.getSession(noWrite.request.workspace, noWrite.ref.opencodeSessionId);
    expect(session.permission).toEqual(
      expect.arrayContaining([
        { permission: 'edit', pattern: '*', action: 'deny' },
        { permission: 'external_directory', pattern: '*', action: 'deny' },
      ]),
    );
  });

  it("gives a read-only turn read and search tools only, and refuses paths outside the workspace whatever the workspace's config says", async () => {
    const outside = makeTempWorkspace();
    const readOnlyMarker = `read-only-${newOpencodeMessageId()}`;
    const readOnly = await runTurn(turnRequest(`${readOnlyMarker}\n[[write a.txt]]x[[/write]]`, { policy: { readOnly: true, permissions: {} } }));
    expect(readOnly.outcome).toMatchObject({ status: 'completed', summary: 'The write tool is not available in this turn.' });
    const offered = (await rehearsalRequests(readOnlyMarker)).at(-1)?.tools?.map((t) => t.function?.name) ?? [];
    expect(offered.length).toBeGreaterThan(0);
    expect(offered.filter((tool) => !['read', 'glob', 'grep', 'list'].includes(tool!))).toEqual([]);

    // A workspace's own config asking for more changes nothing: the session's rules are evaluated last.
    const permissive = makeTempWorkspace({
      files: { 'opencode.json': JSON.stringify({ permission: { '*': 'allow', external_directory: 'allow', edit: 'allow', bash: 'allow' } }) },
    });
    const writer = await runTurn(turnRequest(`[[write ${outside}/x.txt]]x[[/write]][[bash]]touch ${outside}/y[[/bash]]`, { workspace: permissive }));
    expect(writer.outcome).toMatchObject({ status: 'completed', summary: 'Refused: write, bash', filesChanged: [] });
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses to open a turn in a workspace that does not exist', async () => {
    await expect(runner.openTurn(turnRequest('x', { workspace: '/nonexistent/orchestrator-ws' }))).rejects.toMatchObject({
      code: 'WORKSPACE_MISSING',
    });
  });

  it('answers the health check', async () => {
    await expect(runner.isHealthy()).resolves.toBe(true);
  });
});
