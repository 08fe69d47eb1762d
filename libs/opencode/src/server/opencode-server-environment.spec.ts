import {
  buildOpencodeConfig,
  buildOpencodeEnvironment,
  isPassedThrough,
  REHEARSAL_MODEL,
  serverDirectories,
} from './opencode-server-environment';

describe('buildOpencodeConfig', () => {
  it('configures an unattended server with both models set', () => {
    expect(buildOpencodeConfig({ model: 'anthropic/claude-sonnet-4' })).toEqual({
      autoupdate: false,
      share: 'disabled',
      permission: { '*': 'allow', question: 'deny' },
      model: 'anthropic/claude-sonnet-4',
      small_model: 'anthropic/claude-sonnet-4',
    });
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
});

describe('buildOpencodeEnvironment', () => {
  const directories = serverDirectories('/data/opencode');
  const parentEnv = {
    PATH: '/usr/bin',
    HOME: '/home/me',
    XDG_CONFIG_HOME: '/home/me/.config',
    ANTHROPIC_API_KEY: 'sk-ant',
    OPENAI_API_KEY: 'sk-oai',
    AWS_REGION: 'eu-west-1',
    DB_PASSWORD: 'secret',
    REDIS_HOST: 'redis',
    API_KEY: 'orchestrator-key',
    OPENCODE_PASSWORD: 'ours',
    OPENCODE_SERVER_PASSWORD: 'leaked',
    OPENCODE_CONFIG: '/etc/opencode.json',
  };

  it('passes provider credentials and PATH, isolates the directories, keeps the orchestrator secrets out', () => {
    const env = buildOpencodeEnvironment({ parentEnv, directories, config: { model: 'a/b' }, password: 'pw' });
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      ANTHROPIC_API_KEY: 'sk-ant',
      OPENAI_API_KEY: 'sk-oai',
      AWS_REGION: 'eu-west-1',
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
    for (const name of ['DB_PASSWORD', 'REDIS_HOST', 'API_KEY', 'OPENCODE_PASSWORD']) expect(env[name]).toBeUndefined();
  });

  it('sets no server password unless given one', () => {
    const env = buildOpencodeEnvironment({ parentEnv, directories, config: {} });
    expect(env.OPENCODE_SERVER_PASSWORD).toBeUndefined();
  });

  it('filters by name', () => {
    expect(isPassedThrough('GOOGLE_GENERATIVE_AI_API_KEY')).toBe(true);
    expect(isPassedThrough('OPENCODE_HOST')).toBe(false);
    expect(isPassedThrough('DB_USER')).toBe(false);
    expect(isPassedThrough('XDG_DATA_HOME')).toBe(false);
  });
});
