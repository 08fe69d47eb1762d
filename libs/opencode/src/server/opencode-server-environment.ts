import { join } from 'node:path';
import { EnvironmentSchema } from '@app/config';
import { REHEARSAL_ALT_MODEL_ID, REHEARSAL_FALLBACK_MODEL_ID, REHEARSAL_MODEL_ID, REHEARSAL_PROVIDER_ID } from '../rehearsal/rehearsal-provider';

export const REHEARSAL_MODEL = `${REHEARSAL_PROVIDER_ID}/${REHEARSAL_MODEL_ID}`;
/** Same script, other names: a fallback for a model out of quota, an alternative to route to. */
export const REHEARSAL_FALLBACK_MODEL = `${REHEARSAL_PROVIDER_ID}/${REHEARSAL_FALLBACK_MODEL_ID}`;
export const REHEARSAL_ALT_MODEL = `${REHEARSAL_PROVIDER_ID}/${REHEARSAL_ALT_MODEL_ID}`;

const REHEARSAL_MODEL_NAMES: Record<string, string> = {
  [REHEARSAL_MODEL_ID]: 'Scripted rehearsal model',
  [REHEARSAL_FALLBACK_MODEL_ID]: 'Scripted rehearsal fallback model',
  [REHEARSAL_ALT_MODEL_ID]: 'Scripted rehearsal alternative model',
};

/** USD per million tokens: declared so that rehearsal runs report a non-zero cost like real ones. */
const REHEARSAL_MODEL_COST = { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 };

/** The isolated directories a managed server lives in, all under one data dir. */
export interface OpencodeServerDirectories {
  home: string;
  config: string;
  data: string;
  state: string;
  cache: string;
}

export function serverDirectories(dataDir: string): OpencodeServerDirectories {
  return {
    home: join(dataDir, 'home'),
    config: join(dataDir, 'xdg', 'config'),
    data: join(dataDir, 'xdg', 'data'),
    state: join(dataDir, 'xdg', 'state'),
    cache: join(dataDir, 'xdg', 'cache'),
  };
}

/**
 * The config of an unattended server (OPENCODE_CONFIG_CONTENT): nothing updates itself, nothing
 * is shared, no path outside the session's directory and no question to a human (defence in
 * depth should a session come without its ruleset). No `"*": "allow"`: OpenCode merges this inline
 * config AFTER the workspace's opencode.json, so a catch-all here would override the workspace's own
 * `ask` rules (measured on 1.18.33: an `edit: ask` workspace was then never asked). OpenCode's
 * defaults already allow the ordinary tools; what a workspace asks for becomes an approval. `model`
 * and `small_model` are both set, else OpenCode asks a model to choose or fetches the catalogue.
 */
export function buildOpencodeConfig(options: { model: string; rehearsalBaseUrl?: string; snapshots?: boolean }): Record<string, unknown> {
  const config: Record<string, unknown> = {
    autoupdate: false,
    share: 'disabled',
    // Off unless asked for: the turn's files then come from its tool calls, and a worktree session's
    // work is committed by the orchestrator; snapshots triple OpenCode's CPU per session in a git repository.
    snapshot: options.snapshots ?? false,
    // doom_loop: OpenCode's own repeated-call check (three identical calls in one step) would wait for
    // an approval; the orchestrator runs its own guard. Here, not in the session's ruleset: OpenCode
    // 1.18.33 evaluates doom_loop against the agent's rules only (measured: a session rule is ignored).
    permission: { external_directory: 'deny', question: 'deny', doom_loop: 'allow' },
    model: options.model,
    small_model: options.model,
  };
  if (options.rehearsalBaseUrl) {
    config.provider = {
      [REHEARSAL_PROVIDER_ID]: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Rehearsal (offline, scripted)',
        options: { baseURL: options.rehearsalBaseUrl, apiKey: 'rehearsal' },
        models: Object.fromEntries(
          Object.entries(REHEARSAL_MODEL_NAMES).map(([id, name]) => [
            id,
            { name, tool_call: true, cost: REHEARSAL_MODEL_COST, limit: { context: 200_000, output: 32_000 } },
          ]),
        ),
      },
    };
  }
  return config;
}

/**
 * The environment given to OpenCode is an allow-list: whatever the server has, the agent's shell
 * has (OpenCode's bash tool spawns with the server's whole environment). Passed, when set:
 * - the basics of a working shell: PATH, locale, terminal, time zone, user and shell names;
 * - the network settings: proxies (both cases) and extra CA certificates;
 * - the model providers' credentials and settings, by documented name and pattern;
 * - OPENCODE_CONFIG (a config file of your own, e.g. to declare a custom provider);
 * - whatever OPENCODE_PASS_ENV names.
 * Never, even if listed: the orchestrator's own settings and secrets (libs/config/src/env.schema.ts:
 * API_KEY, DB_*, REDIS_*, OPENCODE_PASSWORD, ...), the directories replaced per server (HOME, XDG_*),
 * and OpenCode's own OPENCODE_* variables, which the adapter sets itself.
 */
const SHELL_VARIABLES = ['PATH', 'LANG', 'LANGUAGE', 'TERM', 'COLORTERM', 'TZ', 'USER', 'LOGNAME', 'SHELL'];
const SHELL_PREFIXES = ['LC_'];
const NETWORK_VARIABLES = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
];
/** Provider credentials and settings (OpenCode's providers docs, models.dev `env` fields). */
const PROVIDER_VARIABLES = [
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_CLOUD_PROJECT',
  'GOOGLE_CLOUD_LOCATION',
  'GCLOUD_PROJECT',
  'VERTEXAI_PROJECT',
  'VERTEXAI_LOCATION',
  'OLLAMA_HOST',
];
const PROVIDER_PREFIXES = [
  'ANTHROPIC_',
  'OPENAI_',
  'OPENROUTER_',
  'AWS_',
  'AZURE_',
  'VERTEX_',
  'GOOGLE_VERTEX_',
  'GOOGLE_GENERATIVE_AI_',
  'GEMINI_',
];
/** `*_API_KEY`: the documented shape of nearly every provider's key (GROQ_API_KEY, XAI_API_KEY, ...). */
const PROVIDER_SUFFIXES = ['_API_KEY'];
const PASSED_OPENCODE_VARIABLES = ['OPENCODE_CONFIG'];

/** Replaced by the server's own directories. */
const ISOLATED_VARIABLES = ['HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME'];
/** The orchestrator's settings that have no default (so are not keys of `new EnvironmentSchema()`). */
const ORCHESTRATOR_OPTIONAL_VARIABLES = ['API_KEY', 'OPENCODE_HOST', 'OPENCODE_PASSWORD', 'OPENCODE_MODEL', 'REDIS_PASSWORD', 'WORKSPACE_ROOTS', 'OPENCODE_PASS_ENV', 'PROVIDER_LIMITS'];
const ORCHESTRATOR_PREFIXES = ['DB_', 'REDIS_'];
let orchestratorVariables: Set<string> | undefined;

/** True for the orchestrator's own variables: never given to OpenCode. */
function isOrchestratorVariable(name: string): boolean {
  orchestratorVariables ??= new Set([...Object.keys(new EnvironmentSchema()), ...ORCHESTRATOR_OPTIONAL_VARIABLES]);
  return orchestratorVariables.has(name) || ORCHESTRATOR_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** Whether the orchestrator passes this variable to a managed OpenCode server (`extra`: OPENCODE_PASS_ENV). */
export function isPassedThrough(name: string, extra: readonly string[] = []): boolean {
  if (isOrchestratorVariable(name) || ISOLATED_VARIABLES.includes(name)) return false;
  if (name.startsWith('OPENCODE_')) return PASSED_OPENCODE_VARIABLES.includes(name);
  if (extra.includes(name)) return true;
  return (
    SHELL_VARIABLES.includes(name) ||
    NETWORK_VARIABLES.includes(name) ||
    PROVIDER_VARIABLES.includes(name) ||
    [...SHELL_PREFIXES, ...PROVIDER_PREFIXES].some((prefix) => name.startsWith(prefix)) ||
    PROVIDER_SUFFIXES.some((suffix) => name.endsWith(suffix) && name.length > suffix.length)
  );
}

/** Variables whose value is a file or directory OpenCode reads (credentials, its config, CA certificates). */
const PATH_VARIABLES = ['GOOGLE_APPLICATION_CREDENTIALS', 'OPENCODE_CONFIG', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS'];

/**
 * The absolute paths that the given (already filtered) variables point at, e.g. a credentials
 * file under the user's home: a sandbox that hides the home must still show them, read-only.
 */
export function referencedPathsOf(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([name]) => PATH_VARIABLES.includes(name) || /^AWS_[A-Z_]*_FILE$/.test(name))
    .map(([, value]) => value ?? '')
    .filter((value) => value.startsWith('/'));
}

/**
 * The server's environment: the parent's variables that isPassedThrough allows (PATH, locale,
 * proxies, provider credentials, OPENCODE_PASS_ENV), plus the isolated directories and the
 * inline config.
 */
export function buildOpencodeEnvironment(options: {
  parentEnv: NodeJS.ProcessEnv;
  directories: OpencodeServerDirectories;
  config: Record<string, unknown>;
  password?: string;
  /** OPENCODE_PASS_ENV: more variable names to pass (never the orchestrator's own). */
  passEnv?: readonly string[];
}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(options.parentEnv)) {
    if (value !== undefined && isPassedThrough(name, options.passEnv)) env[name] = value;
  }
  const { home, config, data, state, cache } = options.directories;
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: config,
    XDG_DATA_HOME: data,
    XDG_STATE_HOME: state,
    XDG_CACHE_HOME: cache,
    // The model catalogue is not reachable offline; the configured models are enough.
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_CONFIG_CONTENT: JSON.stringify(options.config),
  });
  if (options.password) env.OPENCODE_SERVER_PASSWORD = options.password;
  return env;
}
