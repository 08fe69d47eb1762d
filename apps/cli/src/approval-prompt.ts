import { createInterface, Interface } from 'node:readline/promises';
import { ApiError } from './api-client';
import { isFinal, StreamEnvelope } from './views';

/** Standard input and output, when both are a terminal: a person is there to answer. */
export interface Terminal {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

/** Answers an approval through the API (POST /api/v1/approvals/:id). */
export type AnswerApproval = (approvalId: string, decision: 'allow' | 'deny') => Promise<unknown>;

interface Question {
  approvalId: string;
  permission: string;
  patterns: string[];
}

/**
 * Asks the person at the terminal about each approval a followed session waits on, one at a
 * time: `Allow <permission> <patterns>? [y/N]`. "y" or "yes" allows; anything else (Enter
 * included) denies. An approval decided elsewhere meanwhile (another operator, its expiry, the
 * end of the turn) closes its question. Stream events are its only input: `approval` events,
 * and a snapshot's `awaitingApproval` (a follower that joins late).
 */
export class ApprovalPrompter {
  private readonly queue: Question[] = [];
  /** Approvals asked about (or being asked), and those known decided: never asked (again). */
  private readonly seen = new Set<string>();
  private readonly decided = new Set<string>();
  private current?: { approvalId: string; cancel: AbortController };
  private readline?: Interface;
  private closed = false;
  private running = false;
  private working?: Promise<void>;

  constructor(
    private readonly terminal: Terminal,
    private readonly answer: AnswerApproval,
    /** Where a failed answer is told (one line), e.g. the CLI's stderr. */
    private readonly say: (line: string) => void,
  ) {}

  onEvent(event: StreamEnvelope): void {
    this.beforeShown(event);
    this.afterShown(event);
  }

  /**
   * The part of an event that ends questions (a decision, the end of the session): call it
   * before the event's lines are printed, so that the open prompt line is ended first.
   */
  beforeShown(event: StreamEnvelope): void {
    if (this.closed) return;
    const d = event.data ?? {};
    if (event.type === 'approval' && d.status !== 'PENDING') this.decidedElsewhere(String(d.approvalId));
    const final =
      event.type === 'end' || (event.type === 'transition' && isFinal(String(d.to))) || (event.type === 'snapshot' && isFinal(String(d.status)));
    if (final) this.close();
  }

  /** The part that asks (a pending approval): call it after the event's lines, which say what is asked. */
  afterShown(event: StreamEnvelope): void {
    if (this.closed) return;
    const d = event.data ?? {};
    if (event.type === 'snapshot') {
      for (const a of (d.awaitingApproval as Array<{ id: string; permission: string; patterns: string[] }> | undefined) ?? []) {
        this.ask({ approvalId: a.id, permission: a.permission, patterns: a.patterns ?? [] });
      }
    } else if (event.type === 'approval' && d.status === 'PENDING') {
      this.ask({ approvalId: String(d.approvalId), permission: String(d.permission), patterns: d.patterns ?? [] });
    }
  }

  /** Resolves once no question is open or waiting (for tests, and before exiting). */
  async idle(): Promise<void> {
    while (this.working) await this.working;
  }

  /** Stops asking; an open question is withdrawn. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.withdrawCurrent();
    this.readline?.close();
    this.readline = undefined;
  }

  private ask(question: Question): void {
    if (this.seen.has(question.approvalId) || this.decided.has(question.approvalId)) return;
    this.seen.add(question.approvalId);
    this.queue.push(question);
    if (this.running) return;
    this.running = true;
    const working = this.work();
    this.working = working;
    void working.finally(() => {
      if (this.working === working) this.working = undefined;
    });
  }

  private decidedElsewhere(approvalId: string): void {
    this.decided.add(approvalId);
    if (this.current?.approvalId === approvalId) this.withdrawCurrent();
  }

  private withdrawCurrent(): void {
    if (!this.current || this.current.cancel.signal.aborted) return;
    // readline ends the open prompt line itself.
    this.current.cancel.abort();
  }

  private async work(): Promise<void> {
    for (let question = this.queue.shift(); question && !this.closed; question = this.queue.shift()) {
      if (this.decided.has(question.approvalId)) continue;
      const cancel = new AbortController();
      this.current = { approvalId: question.approvalId, cancel };
      let line: string;
      try {
        const patterns = question.patterns.length ? ` ${question.patterns.join(' ')}` : '';
        line = await this.lineReader().question(`Allow ${question.permission}${patterns}? [y/N] `, { signal: cancel.signal });
      } catch {
        continue; // withdrawn: decided elsewhere, or closing
      } finally {
        this.current = undefined;
      }
      await this.send(question.approvalId, /^\s*y(es)?\s*$/i.test(line) ? 'allow' : 'deny');
    }
    // Synchronously after the last look at the queue: a question asked from now on starts a new round.
    this.running = false;
  }

  private async send(approvalId: string, decision: 'allow' | 'deny'): Promise<void> {
    try {
      await this.answer(approvalId, decision); // the stream shows the decision
    } catch (err) {
      const reason = err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message;
      this.say(`could not answer approval ${approvalId}: ${reason}`);
    }
  }

  private lineReader(): Interface {
    // Not in terminal mode: the terminal keeps its own line editing, and Ctrl-C stays the process's SIGINT.
    this.readline ??= createInterface({ input: this.terminal.input, output: this.terminal.output, terminal: false });
    return this.readline;
  }
}
