import { assertSafeRef, sessionBranchName, unsafeGitConfigKeys } from './git-refs';
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
});
