import type { AppConfig } from '@app/config';
import type { FleetLease, OpencodeFleet, TurnOutcome } from '@app/opencode';
import { ZERO_USAGE } from '@app/shared';
import type { CodingTurnRequest } from '../../application/ports/coding-turns.port';
import { OpencodeCodingTurnsAdapter } from './opencode-coding-turns.adapter';

const SILENT: TurnOutcome = {
  status: 'failed',
  summary: '',
  filesChanged: [],
  usage: { ...ZERO_USAGE },
  error: { code: 'OPENCODE_UNAVAILABLE', message: 'OpenCode did not answer for 31 s: session status: timeout of 15000ms exceeded' },
};
const REF = { opencodeSessionId: 'ses_1', messageId: 'msg_1', serverId: 'w-m0g1' };
const REQUEST: CodingTurnRequest = { workspace: '/tmp/ws', title: 't', prompt: 'p', agent: 'build', policy: { readOnly: false, permissions: {} } };

/** A fleet with one server whose turn ends as `outcome`; `silentReplaces`: whether replaceSilent finds it UNHEALTHY and managed. */
function fleetWith(outcome: TurnOutcome, silentReplaces: boolean) {
  const lost = new AbortController();
  const lease: FleetLease = {
    serverId: REF.serverId,
    lost: lost.signal,
    release: jest.fn(),
    runner: { runTurn: jest.fn(async () => outcome) } as unknown as FleetLease['runner'],
  };
  const replaceSilent = jest.fn((serverId: string, why: string) => {
    if (silentReplaces) lost.abort(new Error(`the OpenCode server ${serverId} was lost: the server was stopped (unhealthy, and a turn on it got no answer (${why}))`));
    return silentReplaces;
  });
  const fleet = { rejoin: () => lease, replaceSilent } as unknown as OpencodeFleet;
  return { adapter: new OpencodeCodingTurnsAdapter(fleet, {} as AppConfig), replaceSilent, lease };
}

describe('OpencodeCodingTurnsAdapter.runTurn when the server stops answering', () => {
  it('has the fleet replace an UNHEALTHY managed server the turn found silent: the turn is lost (it fails over), not FAILED', async () => {
    const { adapter, replaceSilent, lease } = fleetWith(SILENT, true);
    const outcome = await adapter.runTurn(REF, REQUEST, { signal: new AbortController().signal, resume: true });
    expect(replaceSilent).toHaveBeenCalledWith('w-m0g1', SILENT.error!.message);
    expect(outcome).toMatchObject({
      status: 'lost',
      error: { code: 'OPENCODE_UNAVAILABLE', message: expect.stringMatching(/^the OpenCode server w-m0g1 was lost: .*unhealthy, and a turn on it got no answer \(OpenCode did not answer for 31 s/) },
    });
    expect(lease.release).toHaveBeenCalledTimes(1);
  });

  it('keeps the failure when the fleet keeps the server (it answers its probes, or someone else runs it)', async () => {
    const { adapter, replaceSilent } = fleetWith(SILENT, false);
    const outcome = await adapter.runTurn(REF, REQUEST, { signal: new AbortController().signal, resume: true });
    expect(replaceSilent).toHaveBeenCalledTimes(1);
    expect(outcome).toEqual(SILENT);
  });

  it('asks nothing of the fleet for a turn the worker stopped, or one that failed otherwise', async () => {
    const stopped = new AbortController();
    stopped.abort('timeout');
    const timedOut = fleetWith(SILENT, true);
    expect(await timedOut.adapter.runTurn(REF, REQUEST, { signal: stopped.signal, resume: true })).toEqual(SILENT);
    expect(timedOut.replaceSilent).not.toHaveBeenCalled();

    const provider: TurnOutcome = { ...SILENT, error: { code: 'PROVIDER_ERROR', message: 'HTTP 400' } };
    const failed = fleetWith(provider, true);
    expect(await failed.adapter.runTurn(REF, REQUEST, { signal: new AbortController().signal, resume: true })).toEqual(provider);
    expect(failed.replaceSilent).not.toHaveBeenCalled();
  });
});
