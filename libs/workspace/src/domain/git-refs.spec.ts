import { assertSafeRef, isSafeRef, mergeQueueResource, planBranchName, sessionBranchName, unsafeGitConfigKeys } from './git-refs';
import { WorkspaceErrorCode } from './workspace.errors';

describe('git refs', () => {
  it.each(['main', 'orchestrator/1a2b3c4d-fix-login', 'v1.2', 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0'])('accepts %s', (ref) => {
    expect(assertSafeRef(ref)).toBe(ref);
  });

  it.each(['-x', '--upload-pack=evil', 'a..b', 'a b', 'a/.hidden', 'a.lock', 'a/', 'a//b', 'HEAD@{1}', 'a~1', 'a:b', '', 'ä'])(
    'refuses %j with GIT_REF_INVALID naming the field',
    (ref) => {
      expect(() => assertSafeRef(ref, 'baseRef')).toThrow(expect.objectContaining({ code: WorkspaceErrorCode.GIT_REF_INVALID, details: { field: 'baseRef' } }));
    },
  );

  it('tells a safe ref without throwing', () => {
    expect(isSafeRef('orchestrator/plan-1a2b3c4d')).toBe(true);
    expect(isSafeRef('../x')).toBe(false);
  });

  it('names a session branch after its short id and its title', () => {
    expect(sessionBranchName('1a2b3c4d-0000-4000-8000-000000000000', 'Fix the login page!')).toBe('orchestrator/1a2b3c4d-fix-the-login-page');
    expect(sessionBranchName('1a2b3c4d-0000-4000-8000-000000000000', '--- ..')).toBe('orchestrator/1a2b3c4d');
    expect(sessionBranchName('1a2b3c4d-0000-4000-8000-000000000000', 'x'.repeat(100))).toBe(`orchestrator/1a2b3c4d-${'x'.repeat(40)}`);
    expect(sessionBranchName('1a2b3c4d-0000-4000-8000-000000000000', 'Café déjà vu')).toBe('orchestrator/1a2b3c4d-cafe-deja-vu');
  });

  it('finds the config keys that make git run a program', () => {
    const entries: Array<[string, string]> = [
      ['core.bare', 'false'],
      ['user.name', 'x'],
      ['core.fsmonitor', 'false'],
      ['filter.evil.clean', 'touch /tmp/x'],
      ['diff.evil.textconv', 'cat'],
      ['merge.evil.driver', 'sh'],
      ['include.path', '/tmp/other'],
      ['includeIf.gitdir:/x/.path', '/tmp/other'],
      ['core.hooksPath', '/tmp/hooks'],
      ['core.sshCommand', 'ssh'],
      ['remote.origin.uploadpack', 'x'],
      ['alias.st', '!sh'],
    ];
    expect(unsafeGitConfigKeys(entries)).toEqual([
      'filter.evil.clean',
      'diff.evil.textconv',
      'merge.evil.driver',
      'include.path',
      'includeIf.gitdir:/x/.path',
      'core.hooksPath',
      'core.sshCommand',
    ]);
    expect(unsafeGitConfigKeys([['core.fsmonitor', '/tmp/monitor.sh']])).toEqual(['core.fsmonitor']);
  });

  it('names a plan branch after the first 8 hex digits of its id', () => {
    expect(planBranchName('1a2b3c4d-0000-4000-8000-000000000000')).toBe('orchestrator/plan-1a2b3c4d');
    expect(planBranchName('1A2B-3C4D-0000')).toBe('orchestrator/plan-1a2b3c4d');
    expect(assertSafeRef(planBranchName('00000000-0000-4000-8000-000000000000'))).toBe('orchestrator/plan-00000000');
  });

  it.each(['', 'plan', '1a2b3c4', '1a2b3c4z-0000', '../../x-0000'])('refuses to name a plan branch after %j', (id) => {
    expect(() => planBranchName(id)).toThrow(expect.objectContaining({ code: WorkspaceErrorCode.GIT_REF_INVALID, details: { field: 'planId' } }));
  });

  it('queues the merges of one repository on one resource', () => {
    expect(mergeQueueResource('/srv/repos/billing')).toBe('git-merge:/srv/repos/billing');
    expect(mergeQueueResource('/srv/repos/billing')).not.toBe(mergeQueueResource('/srv/repos/billing-2'));
  });
});
