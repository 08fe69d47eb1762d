import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { EXPECTED_VIOLATIONS, FIXTURE_FILES } from './layout-fixture';

// `npm run lint:deps` passing on a clean tree proves nothing about the rules themselves: here its
// depcruise commands, as package.json spells them, run over a miniature repository with one deliberate
// violation per rule, and each must be reported, and nothing else (the allowed imports stay allowed).
const ROOT = resolve(__dirname, '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/** The argument lists of the `depcruise` commands in `npm run lint:deps` (joined by &&, single-quoted words). */
function lintDepsCommands(): string[][] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return scripts['lint:deps'].split('&&').map((command) => {
    const [program, ...args] = (command.match(/'[^']*'|\S+/g) ?? []).map((word) => word.replace(/^'(.*)'$/, '$1'));
    if (program !== 'depcruise') throw new Error(`lint:deps runs something else than depcruise: ${command}`);
    return args;
  });
}

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

const key = (rule: string, from: string, to: string) => `${rule}: ${from} → ${to}`;

describe('the layout rules (.dependency-cruiser.cjs)', () => {
  let fixture: string;
  let reported: string[];

  beforeAll(async () => {
    fixture = mkdtempSync(join(tmpdir(), 'layout-fixture-'));
    for (const [path, content] of Object.entries(FIXTURE_FILES)) {
      mkdirSync(dirname(join(fixture, path)), { recursive: true });
      writeFileSync(join(fixture, path), content);
    }
    // The configuration under test, and packages that resolve as in the repository (rules match their paths).
    copyFileSync(CONFIG, join(fixture, '.dependency-cruiser.cjs'));
    symlinkSync(join(ROOT, 'node_modules'), join(fixture, 'node_modules'), 'dir');
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [DEPCRUISE, ...args, '--output-type', 'json'], { cwd: fixture, maxBuffer: 1 << 26 }).then(
        (result) => result.stdout,
        // depcruise exits non-zero when it reports errors, which it must here; no output means it failed.
        (error: { stdout?: string; stderr?: string }) => error.stdout || Promise.reject(new Error(`depcruise failed: ${error.stderr}`)),
      );
    const outputs = await Promise.all(lintDepsCommands().map(run));
    const violations = outputs.flatMap((stdout) => (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations);
    reported = violations.map((v) => key(v.rule.name, v.from, v.to.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, '$1')));
  }, 60_000);

  afterAll(() => {
    if (fixture) rmSync(fixture, { recursive: true, force: true });
  });

  it.each(EXPECTED_VIOLATIONS)('%s reports %s → %s', (rule, from, to) => {
    expect(reported).toContain(key(rule, from, to));
  });

  it('reports nothing else: the imports the layout allows stay allowed', () => {
    const expected = EXPECTED_VIOLATIONS.map(([rule, from, to]) => key(rule, from, to));
    expect(reported.filter((violation) => !expected.includes(violation))).toEqual([]);
  });

  it('has a deliberate violation for every rule in the configuration', () => {
    const config = require(CONFIG) as { forbidden: Array<{ name: string }> };
    const exercised = new Set(EXPECTED_VIOLATIONS.map(([rule]) => rule));
    expect(config.forbidden.map((rule) => rule.name).filter((name) => !exercised.has(name))).toEqual([]);
  });
});
