import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { AppConfig, ConfigModule } from '@app/config';
import { OpencodeModule } from '@app/opencode';
import { RedisModule } from '@app/platform';
import { makeTempWorkspace, removeTempWorkspaces } from '@app/testing';
import { CodingTurnRequest } from '../../application/ports/coding-turns.port';
import { OpencodeCodingTurnsAdapter } from './opencode-coding-turns.adapter';

/** The port's adapter, wired by Nest as the app wires it, on the shared test server (OPENCODE_HOST set). */
describe('OpencodeCodingTurnsAdapter', () => {
  let turns: OpencodeCodingTurnsAdapter;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(AppConfig.fromEnvironment()), RedisModule, OpencodeModule],
      providers: [OpencodeCodingTurnsAdapter],
    }).compile();
    const app = await moduleRef.init();
    turns = app.get(OpencodeCodingTurnsAdapter);
    close = () => app.close();
  });

  afterAll(async () => {
    await close?.();
    removeTempWorkspaces();
  });

  it('runs a turn end to end through the port', async () => {
    const workspace = makeTempWorkspace({ git: true });
    const request: CodingTurnRequest = {
      workspace,
      title: 'adapter spec',
      prompt: '[[write README.md]]# Hello\n[[/write]]',
      agent: 'build',
      policy: { readOnly: false, permissions: {} },
    };
    await expect(turns.isHealthy()).resolves.toBe(true);
    const ref = await turns.openTurn(request);
    expect(ref.opencodeSessionId).toMatch(/^ses_/);
    expect(ref.messageId).toMatch(/^msg_/);

    const outcome = await turns.runTurn(ref, request, { signal: new AbortController().signal });

    expect(outcome).toMatchObject({ status: 'completed', filesChanged: ['README.md'], summary: 'Wrote README.md' });
    expect(readFileSync(join(workspace, 'README.md'), 'utf8')).toBe('# Hello\n');
  });
});
