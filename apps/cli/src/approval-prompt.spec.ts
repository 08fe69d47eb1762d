import { PassThrough } from 'node:stream';
import { ApiError } from './api-client';
import { ApprovalPrompter } from './approval-prompt';
import { StreamEnvelope } from './views';

const A = '11111111-1111-4111-8111-00000000000a';
const B = '11111111-1111-4111-8111-00000000000b';

/** A terminal a test types into: stdin and stdout as streams that say they are TTYs. */
class FakeTerminal {
  readonly input = Object.assign(new PassThrough(), { isTTY: true });
  readonly output = Object.assign(new PassThrough(), { isTTY: true });
  written = '';

  constructor() {
    this.output.setEncoding('utf8').on('data', (chunk: string) => (this.written += chunk));
  }

  /** Waits for the question to be on screen, then types a line. */
  async answer(question: string, line: string): Promise<void> {
    await until(() => this.written.includes(question), `the question "${question}"`);
    this.input.write(`${line}\n`);
  }
}

const event = (type: string, data: Record<string, unknown>): StreamEnvelope => ({ sessionId: 's', type, at: new Date().toISOString(), data });
const pending = (approvalId: string, patterns = ['a.txt']) =>
  event('approval', { approvalId, permission: 'edit', patterns, title: 'edit a.txt', status: 'PENDING', expiresAt: new Date().toISOString(), attempt: 1 });

function setup(answer: (id: string, decision: 'allow' | 'deny') => Promise<unknown> = async () => ({ status: 'X' })) {
  const terminal = new FakeTerminal();
  const answers: Array<[string, string]> = [];
  const said: string[] = [];
  const prompter = new ApprovalPrompter(
    terminal,
    async (id, decision) => {
      answers.push([id, decision]);
      return answer(id, decision);
    },
    (line) => said.push(line),
  );
  return { terminal, answers, said, prompter };
}

describe('ApprovalPrompter', () => {
  it('asks "Allow <permission> <patterns>? [y/N]" and answers allow on y, deny on anything else', async () => {
    const { terminal, answers, prompter } = setup();
    prompter.onEvent(pending(A, ['src/a.ts', 'src/b.ts']));
    await terminal.answer('Allow edit src/a.ts src/b.ts? [y/N] ', 'y');
    prompter.onEvent(pending(B));
    await terminal.answer('Allow edit a.txt? [y/N] ', '');
    await prompter.idle();
    expect(answers).toEqual([
      [A, 'allow'],
      [B, 'deny'],
    ]);
    prompter.close();
  });

  it('asks one question at a time, each approval once (a snapshot after a reconnect lists it again)', async () => {
    const { terminal, answers, prompter } = setup();
    prompter.onEvent(pending(A));
    prompter.onEvent(pending(B, ['b.txt']));
    prompter.onEvent(event('snapshot', { status: 'RUNNING', awaitingApproval: [{ id: A, permission: 'edit', patterns: ['a.txt'] }] }));
    await terminal.answer('Allow edit a.txt? [y/N] ', 'yes');
    expect(terminal.written).not.toContain('b.txt');
    await terminal.answer('Allow edit b.txt? [y/N] ', 'n');
    await prompter.idle();
    expect(answers).toEqual([
      [A, 'allow'],
      [B, 'deny'],
    ]);
    expect(terminal.written.match(/Allow/g)).toHaveLength(2);
    prompter.close();
  });

  it('asks about what a late joiner finds in the snapshot', async () => {
    const { terminal, answers, prompter } = setup();
    prompter.onEvent(event('snapshot', { status: 'RUNNING', awaitingApproval: [{ id: A, permission: 'bash', patterns: ['npm test'] }] }));
    await terminal.answer('Allow bash npm test? [y/N] ', 'Y');
    await prompter.idle();
    expect(answers).toEqual([[A, 'allow']]);
    prompter.close();
  });

  it('withdraws the open question when the approval is decided elsewhere, and goes on with the next', async () => {
    const { terminal, answers, prompter } = setup();
    prompter.onEvent(pending(A));
    prompter.onEvent(pending(B, ['b.txt']));
    await until(() => terminal.written.includes('Allow edit a.txt?'), 'the first question');
    prompter.onEvent(event('approval', { approvalId: A, status: 'EXPIRED', decidedBy: 'timeout' }));
    await terminal.answer('Allow edit b.txt? [y/N] ', 'y');
    await prompter.idle();
    expect(answers).toEqual([[B, 'allow']]);
    // The withdrawn question's line is ended (by readline), with no blank line after it.
    expect(terminal.written).toMatch(/a\.txt\? \[y\/N\] \r?\nAllow edit b\.txt\?/);
    prompter.close();
  });

  it('does not ask about an approval decided before its turn came', async () => {
    const { terminal, answers, prompter } = setup();
    prompter.onEvent(pending(A));
    prompter.onEvent(pending(B, ['b.txt']));
    prompter.onEvent(event('approval', { approvalId: B, status: 'ALLOWED', decidedBy: 'key' }));
    await terminal.answer('Allow edit a.txt? [y/N] ', 'n');
    await prompter.idle();
    expect(answers).toEqual([[A, 'deny']]);
    expect(terminal.written).not.toContain('b.txt');
    prompter.close();
  });

  it('tells why an answer was refused (e.g. answered twice) and keeps following', async () => {
    const { terminal, said, prompter } = setup(async () => {
      throw new ApiError(409, 'APPROVAL_ALREADY_DECIDED', `Approval ${A} is DENIED already`);
    });
    prompter.onEvent(pending(A));
    await terminal.answer('Allow edit a.txt? [y/N] ', 'y');
    await prompter.idle();
    expect(said).toEqual([`could not answer approval ${A}: APPROVAL_ALREADY_DECIDED: Approval ${A} is DENIED already`]);
    prompter.close();
  });

  it('stops asking when the session ends', async () => {
    const { terminal, answers, prompter } = setup();
    prompter.onEvent(pending(A));
    await until(() => terminal.written.includes('Allow edit a.txt?'), 'the question');
    prompter.onEvent(event('end', { status: 'CANCELLED' }));
    await prompter.idle();
    prompter.onEvent(pending(B));
    terminal.input.write('y\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answers).toEqual([]);
    expect(terminal.written.match(/Allow/g)).toHaveLength(1);
  });
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
