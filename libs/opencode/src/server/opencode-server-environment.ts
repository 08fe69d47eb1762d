import { join } from 'node:path';
import { REHEARSAL_MODEL_ID, REHEARSAL_PROVIDER_ID } from '../rehearsal/rehearsal-provider';

export const REHEARSAL_MODEL = `${REHEARSAL_PROVIDER_ID}/${REHEARSAL_MODEL_ID}`;

/** USD per million tokens: declared so that rehearsal runs report a non-zero cost like real ones. */
export const REHEARSAL_MODEL_COST = { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 };

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
 * The config of an unattended server (OPENCODE_CONFIG_CONTENT): nothing asks a human, nothing
 * updates itself, nothing is shared. `model` and `small_model` are both set, else OpenCode asks
 * a model to choose or fetches the model catalogue.
 */
export function buildOpencodeConfig(options: { model: string; rehearsalBaseUrl?: string }): Record<string, unknown> {
  const config: Record<string, unknown> = {
    autoupdate: false,
    share: 'disabled',
    permission: { '*': 'allow', question: 'deny' },
    model: options.model,
    small_model: options.model,
  };
  if (options.rehearsalBaseUrl) {
    config.provider = {
      [REHEARSAL_PROVIDER_ID]: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Rehearsal (offline, scripted)',
        options: { baseURL: options.rehearsalBaseUrl, apiKey: 'rehearsal' },
        models: {
          [REHEARSAL_MODEL_ID]: {
            name: 'Scripted rehearsal model',
            tool_call: true,
            cost: REHEARSAL_MODEL_COST,
            limit: { context: 200_000, output: 32_000 },
          },
        },
      },
    };
  }
  return config;
}

/**
 * Variables never passed from the orchestrator to the server: the isolated directories, and
 * the orchestrator's own settings and secrets (see libs/config/src/env.schema.ts), which the
 * agent's shell commands would otherwise see.
 */
const ISOLATED_VARIABLES = ['HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME'];
const ORCHESTRATOR_VARIABLES = [
  'PORT',
  'QUEUE_PREFIX',
  'MAX_CONCURRENT_SESSIONS',
  'SESSION_TIMEOUT_SECONDS',
  'API_KEY',
  'WORKER_LEASE_SECONDS',
  'DATA_DIR',
  'LOG_LEVEL',
];
const ORCHESTRATOR_PREFIXES = ['DB_', 'REDIS_'];
/** OPENCODE_* is OpenCode's own (and our OPENCODE_HOST/PORT/PASSWORD/MODEL): set explicitly below. */
const PASSED_OPENCODE_VARIABLES = ['OPENCODE_CONFIG'];

export function isPassedThrough(name: string): boolean {
  if (ISOLATED_VARIABLES.includes(name) || ORCHESTRATOR_VARIABLES.includes(name)) return false;
  if (ORCHESTRATOR_PREFIXES.some((prefix) => name.startsWith(prefix))) return false;
  if (name.startsWith('OPENCODE_')) return PASSED_OPENCODE_VARIABLES.includes(name);
  return true;
}

/**
 * The server's environment: the parent's (so provider credentials such as ANTHROPIC_API_KEY,
 * OPENAI_API_KEY, AWS_* reach it, and PATH for the agent's tools) minus what isPassedThrough
 * keeps out, plus the isolated directories and the inline config.
 */
export function buildOpencodeEnvironment(options: {
  parentEnv: NodeJS.ProcessEnv;
  directories: OpencodeServerDirectories;
  config: Record<string, unknown>;
  password?: string;
}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(options.parentEnv)) {
    if (value !== undefined && isPassedThrough(name)) env[name] = value;
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
