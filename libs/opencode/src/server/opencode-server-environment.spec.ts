import { EnvironmentSchema } from '@app/config';
import {
  buildOpencodeConfig,
  buildOpencodeEnvironment,
  isPassedThrough,
  referencedPathsOf,
  REHEARSAL_ALT_MODEL,
  REHEARSAL_FALLBACK_MODEL,
  REHEARSAL_MODEL,
  serverDirectories,
} from './opencode-server-environment';

describe('buildOpencodeConfig', () => {
  it("denies external directories and questions, allows OpenCode's doom_loop check, and has no catch-all that would override a workspace's own ask rules", () => {
    const { permission } = buildOpencodeConfig({ model: 'a/b' }) as { permission: Record<string, string> };
    expect(Object.entries(permission)).toEqual([
      ['external_directory', 'deny'],
      ['question', 'deny'],
      ['doom_loop', 'allow'],
    ]);
  });

  it('configures an unattended server with both models set', () => {
    expect(buildOpencodeConfig({ model: 'anthropic/claude-sonnet-4' })).toEqual({
      autoupdate: false,
      share: 'disabled',
      snapshot: false,
      permission: { external_directory: 'deny', question: 'deny', doom_loop: 'allow' },
      model: 'anthropic/claude-sonnet-4',
      small_model: 'anthropic/claude-sonnet-4',
    });
  });

  it('takes OpenCode snapshots only when asked (OPENCODE_SNAPSHOTS)', () => {
    expect(buildOpencodeConfig({ model: 'a/b', snapshots: true }).snapshot).toBe(true);
    expect(buildOpencodeConfig({ model: 'a/b', snapshots: false }).snapshot).toBe(false);
  });

  it('declares the rehearsal provider, with a cost so that runs report one', () => {
    const config = buildOpencodeConfig({ model: REHEARSAL_MODEL, rehearsalBaseUrl: 'http://127.0.0.1:1234/v1' });
    expect(config).toMatchObject({
      model: 'rehearsal/scripted',
      small_model: 'rehearsal/scripted',
      provider: {
        rehearsal: {
          npm: '@ai-sdk/openai-compatible',
          options: { baseURL: 'http://127.0.0.1:1234/v1' },
          models: { scripted: { tool_call: true, cost: { input: expect.any(Number), output: expect.any(Number) } } },
        },
      },
    });
  });

  it('declares the scripted, fallback and alt rehearsal models with the same cost', () => {
    const config = buildOpencodeConfig({ model: REHEARSAL_MODEL, rehearsalBaseUrl: 'http://127.0.0.1:1234/v1' }) as {
      provider: { rehearsal: { models: Record<string, { cost: unknown; tool_call: boolean }> } };
    };
    const { models } = config.provider.rehearsal;
    expect([REHEARSAL_MODEL, REHEARSAL_FALLBACK_MODEL, REHEARSAL_ALT_MODEL]).toEqual(['rehearsal/scripted', 'rehearsal/fallback', 'rehearsal/alt']);
    expect(Object.keys(models)).toEqual(['scripted', 'fallback', 'alt']);
    for (const model of Object.values(models)) expect(model).toMatchObject({ tool_call: true, cost: models.scripted.cost });
  });
});

describe('buildOpencodeEnvironment', () => {
  const directories = serverDirectories('/data/opencode');
  const parentEnv = {
    PATH: '/usr/bin',
    LANG: 'en_US.UTF-8',
    LC_ALL: 'C.UTF-8',
    TERM: 'xterm',
    TZ: 'UTC',
    HTTPS_PROXY: 'http://proxy:3128',
    no_proxy: 'localhost',
    HOME: '/home/me',
    XDG_CONFIG_HOME: '/home/me/.config',
    ANTHROPIC_API_KEY: 'sk-ant',
    OPENAI_API_KEY: 'sk-oai',
    GROQ_API_KEY: 'gsk',
    AWS_REGION: 'eu-west-1',
    AWS_SECRET_ACCESS_KEY: 'aws-secret',
    AZURE_RESOURCE_NAME: 'res',
    GOOGLE_APPLICATION_CREDENTIALS: '/home/me/gcp.json',
    GOOGLE_CLOUD_PROJECT: 'proj',
    VERTEX_LOCATION: 'europe-west4',
    DB_PASSWORD: 'secret',
    REDIS_HOST: 'redis',
    REDIS_PASSWORD: 'redis-secret',
    API_KEY: 'orchestrator-key',
    HOST: '0.0.0.0',
    QUEUE_PREFIX: 'q',
    OPENCODE_PASSWORD: 'ours',
    OPENCODE_SERVER_PASSWORD: 'leaked',
    OPENCODE_CONFIG: '/etc/opencode.json',
    SSH_AUTH_SOCK: '/tmp/ssh-agent.sock',
    GITHUB_TOKEN: 'ghp_x',
    NPM_TOKEN: 'npm_x',
    SOMETHING_UNKNOWN: 'x',
  };

  it('passes PATH, locale, proxies and provider credentials; isolates the directories', () => {
    const env = buildOpencodeEnvironment({ parentEnv, directories, config: { model: 'a/b' }, password: 'pw' });
    expect(env).toEqual({
      PATH: '/usr/bin',
      LANG: 'en_US.UTF-8',
      LC_ALL: 'C.UTF-8',
      TERM: 'xterm',
      TZ: 'UTC',
      HTTPS_PROXY: 'http://proxy:3128',
      no_proxy: 'localhost',
      ANTHROPIC_API_KEY: 'sk-ant',
      OPENAI_API_KEY: 'sk-oai',
      GROQ_API_KEY: 'gsk',
      AWS_REGION: 'eu-west-1',
      AWS_SECRET_ACCESS_KEY: 'aws-secret',
      AZURE_RESOURCE_NAME: 'res',
      GOOGLE_APPLICATION_CREDENTIALS: '/home/me/gcp.json',
      GOOGLE_CLOUD_PROJECT: 'proj',
      VERTEX_LOCATION: 'europe-west4',
      OPENCODE_CONFIG: '/etc/opencode.json',
      HOME: '/data/opencode/home',
      XDG_CONFIG_HOME: '/data/opencode/xdg/config',
      XDG_DATA_HOME: '/data/opencode/xdg/data',
      XDG_STATE_HOME: '/data/opencode/xdg/state',
      XDG_CACHE_HOME: '/data/opencode/xdg/cache',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_CONFIG_CONTENT: '{"model":"a/b"}',
      OPENCODE_SERVER_PASSWORD: 'pw',
    });
  });

  it('passes what OPENCODE_PASS_ENV names, but never the orchestrator\'s own variables', () => {
    const passEnv = ['GITHUB_TOKEN', 'API_KEY', 'DB_PASSWORD', 'REDIS_PASSWORD', 'OPENCODE_PASSWORD', 'HOME', 'NOT_SET'];
    const env = buildOpencodeEnvironment({ parentEnv, directories, config: {}, passEnv });
    expect(env.GITHUB_TOKEN).toBe('ghp_x');
    expect(env.HOME).toBe('/data/opencode/home');
    for (const name of ['API_KEY', 'DB_PASSWORD', 'REDIS_PASSWORD', 'OPENCODE_PASSWORD', 'NOT_SET']) expect(env[name]).toBeUndefined();
  });

  it('sets no server password unless given one', () => {
    const env = buildOpencodeEnvironment({ parentEnv, directories, config: {} });
    expect(env.OPENCODE_SERVER_PASSWORD).toBeUndefined();
  });

  it('filters by name: an allow-list', () => {
    for (const name of ['GOOGLE_GENERATIVE_AI_API_KEY', 'XAI_API_KEY', 'AWS_BEARER_TOKEN_BEDROCK', 'AZURE_API_KEY', 'LC_CTYPE', 'http_proxy']) {
      expect(isPassedThrough(name)).toBe(true);
    }
    for (const name of ['SSH_AUTH_SOCK', 'GITHUB_TOKEN', 'NPM_TOKEN', 'KUBECONFIG', 'NODE_OPTIONS', 'TMPDIR', '_API_KEY', 'OPENCODE_HOST', 'XDG_DATA_HOME']) {
      expect(isPassedThrough(name)).toBe(false);
    }
  });

  it('never passes a variable of the orchestrator\'s schema, even if listed', () => {
    const optional = ['API_KEY', 'REDIS_PASSWORD', 'OPENCODE_HOST', 'OPENCODE_PASSWORD', 'OPENCODE_MODEL', 'WORKSPACE_ROOTS', 'OPENCODE_PASS_ENV'];
    const names = [...Object.keys(new EnvironmentSchema()), ...optional];
    expect(names).toEqual(expect.arrayContaining(['PORT', 'HOST', 'DB_PASSWORD', 'QUEUE_PREFIX', 'DATA_DIR', 'OPENCODE_SANDBOX']));
    for (const name of names) expect(isPassedThrough(name, names)).toBe(false);
  });
});

describe('referencedPathsOf', () => {
  it('lists the absolute paths of credential and config files the passed variables name', () => {
    expect(
      referencedPathsOf({
        GOOGLE_APPLICATION_CREDENTIALS: '/home/me/gcp.json',
        AWS_SHARED_CREDENTIALS_FILE: '/home/me/.aws/credentials',
        AWS_CONFIG_FILE: 'relative/config',
        OPENCODE_CONFIG: '/home/me/opencode.json',
        ANTHROPIC_API_KEY: '/not/a/path/variable',
      }),
    ).toEqual(['/home/me/gcp.json', '/home/me/.aws/credentials', '/home/me/opencode.json']);
  });
});
