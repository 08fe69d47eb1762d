import { OpencodeError } from '../client/opencode-error';
import { DIR, MESSAGE, ScriptedOpencode, SESSION, until } from './testing/scripted-opencode';
import { TurnFollower, TurnRunnerTimings } from './turn-follower';

const TIMINGS: TurnRunnerTimings = {
  reconcileIntervalMs: 20,
  unavailableAfterMs: 1_500,
  notStartedGraceMs: 50,
  abortSettleMs: 200,
  errorSettleMs: 20,
  textFlushMs: 10,
  maxProviderRetries: 2,
};

/** The server process is gone (killed, restarting): every request is refused, until `back()`. */
function goneUntilBack(fake: ScriptedOpencode) {
  const refused = () => Promise.reject(new OpencodeError('connect ECONNREFUSED 127.0.0.1:4096', 'UNREACHABLE'));
  const messages = fake.messages.bind(fake);
  const sessionStatus = fake.sessionStatus.bind(fake);
  let reads = 0;
  fake.messages = () => (reads++, refused());
  fake.sessionStatus = refused;
  return {
    reads: () => reads,
    back() {
      fake.messages = () => (reads++, messages());
      fake.sessionStatus = sessionStatus;
    },
  };
}

/** OpenCode says the turn is over (idle after busy) while its server dies: its answer is not read yet. */
async function settledAsTheServerGoes(signal = new AbortController().signal, timings = TIMINGS) {
  const fake = new ScriptedOpencode();
  const run = new TurnFollower(fake.asClient(), { opencodeSessionId: SESSION, messageId: MESSAGE }, { workspace: DIR, title: 't', prompt: 'p', agent: 'build' }, { signal }, timings).run();
  await until(() => fake.prompts > 0, 'the prompt');
  fake.busy();
  fake.finish(); // the answer is stored on the server, and the idle announced...
  const server = goneUntilBack(fake); // ...as the server goes (the idle was already on its way)
  return { fake, run, server };
}

describe('TurnFollower: a turn that ended as its server went', () => {
  it('fails OPENCODE_UNAVAILABLE when its answer cannot be read within the silence limit, never COMPLETED with nothing in it', async () => {
    const { run, server } = await settledAsTheServerGoes();
    const outcome = await run;
    expect(outcome).toMatchObject({
      status: 'failed',
      error: { code: 'OPENCODE_UNAVAILABLE', message: expect.stringMatching(/^OpenCode ended the turn, but its answer could not be read: .*ECONNREFUSED/) },
    });
    expect(server.reads()).toBeGreaterThan(1); // asked again while the server might come back
  });

  it('reads its answer once the server is back (restarted with its data) and completes with it', async () => {
    const { run, server } = await settledAsTheServerGoes();
    await until(() => server.reads() > 0, 'a first read refused');
    server.back();
    const outcome = await run;
    expect(outcome).toMatchObject({ status: 'completed', usage: { inputTokens: 1, outputTokens: 1 } });
    expect(outcome.error).toBeUndefined();
  });

  it('stops asking when the worker stops the turn (its timeout, a cancel, its server lost)', async () => {
    const stop = new AbortController();
    // A silence limit past the test's own timeout: only the stop can end the asking in time.
    const { run, server } = await settledAsTheServerGoes(stop.signal, { ...TIMINGS, unavailableAfterMs: 600_000 });
    await until(() => server.reads() > 0, 'a first read refused');
    stop.abort('timeout');
    const outcome = await run;
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'OPENCODE_UNAVAILABLE' } });
  });
});
