import { AppConfig } from '@app/config';
import { opencodeEndpointFor } from './opencode.module';
import { StaticOpencodeEndpoint } from './opencode-endpoint';
import { ManagedOpencodeServer } from './server/managed-opencode-server';

describe('opencodeEndpointFor', () => {
  it('uses the external server when OPENCODE_HOST is set', () => {
    const source = opencodeEndpointFor(
      AppConfig.with({ OPENCODE_HOST: 'oc.internal', OPENCODE_PORT: '4100', OPENCODE_PASSWORD: 'pw', OPENCODE_MODEL: 'a/b' }),
    );
    expect(source).toBeInstanceOf(StaticOpencodeEndpoint);
    expect(source.endpoint()).toEqual({ baseUrl: 'http://oc.internal:4100', password: 'pw' });
    expect(source.defaultModel).toBe('a/b');
  });

  it('manages a local server under DATA_DIR otherwise, with a password even when none is configured', () => {
    const source = opencodeEndpointFor(
      AppConfig.with({ OPENCODE_HOST: '', OPENCODE_PASSWORD: '', OPENCODE_MODEL: '', DATA_DIR: '/tmp/orchestrator-spec' }),
    );
    expect(source).toBeInstanceOf(ManagedOpencodeServer);
    expect(source.defaultModel).toBe('rehearsal/scripted');
    expect(source.endpoint().password).toEqual(expect.any(String));
  });
});
