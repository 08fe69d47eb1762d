import { ConsoleLogger } from '@nestjs/common';

/**
 * Nest's console logger at error and warn, counting what it logs by kind (ids, the benchmark's
 * temporary root and numbers taken out), printing only the first 3 lines of each kind: `report()`
 * shows them all at the end. Lines containing one of `ignore` are expected and neither counted nor printed.
 */
export class CountingLogger extends ConsoleLogger {
  readonly kinds = new Map<string, { count: number; first: string }>();

  private readonly root: RegExp;
  private readonly ignore: readonly string[];

  constructor(kinds: { root: RegExp; ignore?: readonly string[] }) {
    super('bench', { logLevels: ['error', 'warn'] });
    this.root = kinds.root;
    this.ignore = kinds.ignore ?? [];
  }

  override error(message: unknown, ...rest: unknown[]): void {
    if (this.note('error', message, rest)) super.error(message, ...rest);
  }

  override warn(message: unknown, ...rest: unknown[]): void {
    if (this.note('warn', message, rest)) super.warn(message, ...rest);
  }

  /** Every kind logged during the run, the most frequent first; nothing when none was. */
  report(): void {
    if (this.kinds.size === 0) return;
    console.log(`app errors and warnings logged during the run (by kind):`);
    for (const { count, first } of [...this.kinds.values()].sort((a, b) => b.count - a.count)) console.log(`  ${count} x ${first}`);
  }

  private note(level: string, message: unknown, rest: unknown[]): boolean {
    const context = typeof rest[rest.length - 1] === 'string' ? `[${rest[rest.length - 1] as string}] ` : '';
    const text = `${level} ${context}${String(message)}`;
    if (this.ignore.some((expected) => text.includes(expected))) return false;
    const kind = text
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.\d+)?/g, '<id>')
      .replace(this.root, '<root>')
      .replace(/\d+/g, 'N')
      .slice(0, 300);
    const seen = this.kinds.get(kind) ?? { count: 0, first: text.slice(0, 400) };
    seen.count++;
    this.kinds.set(kind, seen);
    return seen.count <= 3;
  }
}
