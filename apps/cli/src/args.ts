/**
 * Command-line parsing for the orchestrator CLI: global options anywhere on the line, one
 * command, its positionals and options. No dependency: the grammar is small and the errors
 * should name exactly what is wrong.
 */

type OptionKind = 'string' | 'int' | 'number' | 'boolean' | 'list';

interface OptionSpec {
  name: string;
  kind: OptionKind;
  /** Shown in help after the option name, e.g. DIR. */
  value?: string;
  description: string;
  required?: boolean;
  /** For int and number options: the smallest and largest value accepted. */
  min?: number;
  max?: number;
  /** For string options: the only values accepted (compared after upper-casing when `upper`, lower-casing when `lower`). */
  choices?: readonly string[];
  upper?: boolean;
  lower?: boolean;
  /** For number options: the value must be above `min`, not equal to it. */
  exclusiveMin?: boolean;
  /** Boolean options default to false unless this says true (`--no-NAME` turns them off). */
  defaultValue?: boolean;
}

interface CommandSpec {
  name: string;
  summary: string;
  positionals: Array<{ name: string; description: string }>;
  options: OptionSpec[];
}

export type OptionValue = string | number | boolean | string[];

export interface GlobalOptions {
  url: string;
  apiKey?: string;
  json: boolean;
}

export type ParsedArgs =
  | { kind: 'help'; command?: string; global: GlobalOptions }
  | { kind: 'version'; global: GlobalOptions }
  | { kind: 'command'; command: string; positionals: Record<string, string>; options: Record<string, OptionValue>; global: GlobalOptions };

/** A mistake on the command line: printed as `USAGE: message`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

const SESSION_STATUSES = ['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'] as const;
const PLAN_STATUSES = ['DRAFT', 'RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
const AGENT_ROLES = ['ARCHITECT', 'IMPLEMENTER', 'REVIEWER', 'DEBUGGER'] as const;
const ISOLATIONS = ['worktree', 'shared'] as const;
const MERGE_STRATEGIES = ['merge', 'squash', 'rebase'] as const;

/** The options of the two merge commands (a session's branch, a plan's integration branch). */
const MERGE_OPTIONS: OptionSpec[] = [
  { name: 'target', kind: 'string', value: 'BRANCH', description: 'the branch to merge into (default: the branch checked out at the repository\'s top)' },
  {
    name: 'strategy',
    kind: 'string',
    value: 'S',
    description: 'merge (a merge commit, the default), squash (one commit) or rebase (the commits replayed)',
    choices: MERGE_STRATEGIES,
    lower: true,
  },
];

/** A budget's three limits (an absent one is no limit), as run and plan-budget take them. */
const BUDGET_OPTIONS: OptionSpec[] = [
  { name: 'max-cost-usd', kind: 'number', value: 'USD', description: 'budget: at most this many US dollars', min: 0, exclusiveMin: true, max: 1e7 },
  { name: 'max-tokens', kind: 'int', value: 'N', description: 'budget: at most this many tokens (every kind)', min: 1, max: 1e12 },
  { name: 'max-minutes', kind: 'number', value: 'M', description: 'budget: at most this many minutes of running time', min: 0, exclusiveMin: true, max: 1e7 },
];

const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'url', kind: 'string', value: 'URL', description: 'API base URL (env ORCHESTRATOR_URL, default http://localhost:3000)' },
  { name: 'api-key', kind: 'string', value: 'KEY', description: 'bearer token when the server sets API_KEY (env API_KEY)' },
  { name: 'json', kind: 'boolean', description: 'machine output: JSON (one JSON object per line for run/follow events)' },
  { name: 'help', kind: 'boolean', description: 'show help (also: orchestrator help COMMAND)' },
  { name: 'version', kind: 'boolean', description: 'show the CLI version' },
];

const ID = (what: string) => ({ name: 'id', description: `the ${what}'s id` });

const COMMANDS: CommandSpec[] = [
  {
    name: 'run',
    summary: 'create a session, start it and follow it to its end',
    positionals: [],
    options: [
      { name: 'workspace', kind: 'string', value: 'DIR', description: 'directory the session works in (made absolute)', required: true },
      { name: 'prompt', kind: 'string', value: 'TEXT', description: 'what to do; "-" reads it from standard input', required: true },
      { name: 'title', kind: 'string', value: 'T', description: 'title (default: the start of the prompt)' },
      { name: 'role', kind: 'string', value: 'R', description: 'route to the best agent of this role', choices: AGENT_ROLES, upper: true },
      { name: 'skills', kind: 'list', value: 'a,b', description: 'skills the work needs (routing input)' },
      { name: 'complexity', kind: 'int', value: 'N', description: 'how hard the work is, 1-10 (routing input)', min: 1, max: 10 },
      { name: 'agent-id', kind: 'string', value: 'ID', description: 'run it on this orchestrator agent' },
      { name: 'model', kind: 'string', value: 'P/M', description: 'model as provider/model (default: the agent\'s or server\'s)' },
      { name: 'timeout', kind: 'int', value: 'S', description: 'timeoutSeconds of the session', min: 1, max: 86_400 },
      {
        name: 'isolation',
        kind: 'string',
        value: 'I',
        description: 'worktree: its own branch in a git worktree (default in a git repository); shared: the workspace itself',
        choices: ISOLATIONS,
        lower: true,
      },
      { name: 'base', kind: 'string', value: 'REF', description: 'the branch or commit its branch starts from (default: the workspace\'s HEAD; worktree only)' },
      ...BUDGET_OPTIONS.map((o) => ({ ...o, description: `${o.description} (the session's own budget)` })),
      { name: 'follow', kind: 'boolean', defaultValue: true, description: 'only create and start the session, print its id and exit (default: follow it)' },
    ],
  },
  {
    name: 'follow',
    summary: 'attach to a session\'s live progress (late join: starts from its current state)',
    positionals: [ID('session')],
    options: [],
  },
  {
    name: 'sessions',
    summary: 'list sessions, newest first',
    positionals: [],
    options: [
      { name: 'status', kind: 'string', value: 'S', description: 'only this status', choices: SESSION_STATUSES, upper: true },
      { name: 'limit', kind: 'int', value: 'N', description: 'at most N (1-200, default 20)', min: 1, max: 200 },
      { name: 'cursor', kind: 'string', value: 'C', description: 'the next page (printed under a full page)' },
    ],
  },
  { name: 'show', summary: 'a session in full: prompt, result, usage, error, branch and changes, history', positionals: [ID('session')], options: [] },
  { name: 'cancel', summary: 'cancel a session (a running one stops within seconds)', positionals: [ID('session')], options: [] },
  {
    name: 'diff',
    summary: 'what a worktree session\'s branch changed: the unified diff (--json: per file)',
    positionals: [ID('session')],
    options: [],
  },
  { name: 'merge', summary: 'merge a worktree session\'s branch into a branch of its repository', positionals: [ID('session')], options: MERGE_OPTIONS },
  { name: 'discard', summary: 'delete a worktree session\'s branch without merging it', positionals: [ID('session')], options: [] },
  {
    name: 'plans',
    summary: 'list plans, newest first',
    positionals: [],
    options: [
      { name: 'status', kind: 'string', value: 'S', description: 'only this status', choices: PLAN_STATUSES, upper: true },
      { name: 'limit', kind: 'int', value: 'N', description: 'at most N (1-100, default 20)', min: 1, max: 100 },
    ],
  },
  { name: 'plan', summary: 'a plan: progress, totals, budget and spend, its branch and its tasks with status, agent and session', positionals: [ID('plan')], options: [] },
  {
    name: 'plan-budget',
    summary: 'set a plan\'s budget: the limits given replace those of its budget, the others stay (--clear: no budget)',
    positionals: [ID('plan')],
    options: [
      ...BUDGET_OPTIONS,
      { name: 'clear', kind: 'boolean', description: 'remove every limit (no budget) before applying the ones given' },
    ],
  },
  { name: 'plan-merge', summary: 'merge a finished plan\'s integration branch into a branch of its repository', positionals: [ID('plan')], options: MERGE_OPTIONS },
  { name: 'agents', summary: 'list agents with role, skills and tier', positionals: [], options: [] },
  { name: 'capacity', summary: 'provider limits (concurrency, requests and tokens per minute) with what is in use, and models held back', positionals: [], options: [] },
  {
    name: 'agent-performance',
    summary: 'an agent\'s success rate, quality, cost, durations and tier',
    positionals: [{ name: 'id', description: 'the agent\'s id or name' }],
    options: [{ name: 'last', kind: 'int', value: 'N', description: 'the recent window: last N counted runs (1-1000, default 50)', min: 1, max: 1000 }],
  },
];

export interface ParseEnv {
  ORCHESTRATOR_URL?: string;
  API_KEY?: string;
}

export function parseArgs(argv: readonly string[], env: ParseEnv = {}): ParsedArgs {
  const tokens = [...argv];
  const raw: Record<string, OptionValue> = {};
  const rest: string[] = [];
  let command: CommandSpec | undefined;
  let helpTopic: string | undefined;
  let afterDashDash = false;

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (afterDashDash || !token.startsWith('-') || token === '-') {
      if (!command && !helpTopic && rest.length === 0) {
        if (token === 'help') {
          helpTopic = 'help';
          continue;
        }
        command = COMMANDS.find((c) => c.name === token);
        if (!command) throw new UsageError(`unknown command "${token}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
        continue;
      }
      rest.push(token);
      continue;
    }
    if (token === '--') {
      afterDashDash = true;
      continue;
    }
    if (token === '-h') {
      raw.help = true;
      continue;
    }
    if (!token.startsWith('--')) throw new UsageError(`unknown option "${token}" (options are spelled --name)`, command?.name);
    const eq = token.indexOf('=');
    let name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    let negated = false;
    let spec = findOption(command, name);
    if (!spec && name.startsWith('no-')) {
      const positive = findOption(command, name.slice(3));
      if (positive?.kind === 'boolean') {
        spec = positive;
        negated = true;
        name = name.slice(3);
      }
    }
    if (!spec) {
      const where = command ? `"${command.name}"` : 'the command line';
      throw new UsageError(`unknown option --${name} for ${where}`, command?.name);
    }
    if (spec.kind === 'boolean') {
      if (inline !== undefined) {
        if (!['true', 'false'].includes(inline)) throw new UsageError(`--${name} takes no value (or =true / =false)`, command?.name);
        raw[name] = negated ? inline !== 'true' : inline === 'true';
      } else raw[name] = !negated;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`, command?.name);
      value = next;
      i++;
    }
    raw[name] = convert(spec, value, command?.name);
  }

  const global: GlobalOptions = {
    url: stripSlash(String(raw.url ?? env.ORCHESTRATOR_URL ?? 'http://localhost:3000')),
    apiKey: (raw['api-key'] as string | undefined) ?? (env.API_KEY || undefined),
    json: raw.json === true,
  };
  if (!/^https?:\/\/[^/\s]+/i.test(global.url)) throw new UsageError(`--url must be an http(s) URL, got "${global.url}"`);

  if (raw.version === true) return { kind: 'version', global };
  if (helpTopic === 'help') return { kind: 'help', command: rest[0] ?? command?.name, global };
  if (raw.help === true || !command) return { kind: 'help', command: command?.name, global };

  if (rest.length > command.positionals.length) {
    throw new UsageError(`"${command.name}" takes ${describeCount(command.positionals.length)}, got extra "${rest[command.positionals.length]}"`, command.name);
  }
  const positionals: Record<string, string> = {};
  command.positionals.forEach((p, i) => {
    if (rest[i] === undefined) throw new UsageError(`"${command!.name}" needs ${p.name.toUpperCase()} (${p.description})`, command!.name);
    positionals[p.name] = rest[i];
  });
  const options: Record<string, OptionValue> = {};
  for (const spec of command.options) {
    const value = raw[spec.name];
    if (value !== undefined) options[spec.name] = value;
    else if (spec.kind === 'boolean') options[spec.name] = spec.defaultValue ?? false;
    else if (spec.required) throw new UsageError(`"${command.name}" needs --${spec.name}${spec.value ? ` ${spec.value}` : ''}`, command.name);
  }
  return { kind: 'command', command: command.name, positionals, options, global };
}

function findOption(command: CommandSpec | undefined, name: string): OptionSpec | undefined {
  return GLOBAL_OPTIONS.find((o) => o.name === name) ?? command?.options.find((o) => o.name === name);
}

function convert(spec: OptionSpec, value: string, command?: string): OptionValue {
  switch (spec.kind) {
    case 'int': {
      const n = Number(value);
      if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`--${spec.name} must be a whole number, got "${value}"`, command);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`--${spec.name} must be between ${spec.min} and ${spec.max}, got ${n}`, command);
      }
      return n;
    }
    case 'number': {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${spec.name} must be a number, got "${value}"`, command);
      const tooLow = spec.min !== undefined && (spec.exclusiveMin ? n <= spec.min : n < spec.min);
      if (tooLow || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`--${spec.name} must be ${spec.exclusiveMin ? 'above' : 'at least'} ${spec.min} and at most ${spec.max}, got ${n}`, command);
      }
      return n;
    }
    case 'list':
      return value.split(',').map((s) => s.trim()).filter(Boolean);
    case 'string': {
      const v = spec.upper ? value.toUpperCase() : spec.lower ? value.toLowerCase() : value;
      if (spec.choices && !spec.choices.includes(v)) throw new UsageError(`--${spec.name} must be one of ${spec.choices.join(', ')}, got "${value}"`, command);
      if (v.trim() === '') throw new UsageError(`--${spec.name} must not be empty`, command);
      return v;
    }
    default:
      return value;
  }
}

function describeCount(n: number): string {
  return n === 0 ? 'no arguments' : n === 1 ? 'one argument' : `${n} arguments`;
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export function helpText(commandName?: string): string {
  const command = COMMANDS.find((c) => c.name === commandName);
  const optionLines = (options: OptionSpec[]) =>
    options.map((o) => {
      const flag = o.kind === 'boolean' && o.defaultValue ? `--no-${o.name}` : `--${o.name}${o.value ? ` ${o.value}` : ''}`;
      return `  ${flag.padEnd(22)} ${o.description}${o.required ? ' (required)' : ''}`;
    });
  if (command) {
    const usage = [
      `orchestrator ${command.name}`,
      ...command.positionals.map((p) => p.name.toUpperCase()),
      ...command.options.filter((o) => o.required).map((o) => `--${o.name} ${o.value ?? ''}`.trim()),
      command.options.some((o) => !o.required) ? '[options]' : '',
    ].filter(Boolean);
    return [
      `Usage: ${usage.join(' ')}`,
      '',
      command.summary,
      ...(command.positionals.length ? ['', ...command.positionals.map((p) => `  ${p.name.toUpperCase().padEnd(22)} ${p.description}`)] : []),
      ...(command.options.length ? ['', 'Options:', ...optionLines(command.options)] : []),
      '',
      'Global options:',
      ...optionLines(GLOBAL_OPTIONS),
      '',
    ].join('\n');
  }
  return [
    'Usage: orchestrator COMMAND [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${[c.name, ...c.positionals.map((p) => p.name.toUpperCase())].join(' ').padEnd(22)} ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit codes: 0 success (run/follow: COMPLETED); 1 FAILED, TIMED_OUT, CANCELLED or an API error;',
    '2 bad input (command line or a 400 from the API); 130 interrupted (run: the session is cancelled).',
    '',
  ].join('\n');
}
