import { WorkspaceError, WorkspaceErrorCode } from './workspace.errors';

/**
 * A branch or ref the orchestrator hands to git: letters, digits and `._/-`, never an option
 * (a leading `-`), never `..`, `@{`, a `.lock` component or a component starting with `.`
 * (git check-ref-format's rules, narrowed to what the orchestrator makes and accepts).
 */
export function assertSafeRef(ref: string, field = 'ref'): string {
  const bad =
    !/^[A-Za-z0-9._/-]{1,200}$/.test(ref) ||
    ref.startsWith('-') ||
    ref.includes('..') ||
    ref.includes('//') ||
    ref.endsWith('/') ||
    ref.endsWith('.') ||
    ref.split('/').some((part) => part === '' || part.startsWith('.') || part.endsWith('.lock'));
  if (bad) {
    throw new WorkspaceError(WorkspaceErrorCode.GIT_REF_INVALID, `${field} "${ref}" is not a branch or commit name git accepts here`, { field });
  }
  return ref;
}

/** Whether `ref` passes assertSafeRef. */
export function isSafeRef(ref: string): boolean {
  try {
    assertSafeRef(ref);
    return true;
  } catch {
    return false;
  }
}

/** `orchestrator/<first 8 of the session id>-<slug of its title>`: one branch per session, readable in `git branch`. */
export function sessionBranchName(sessionId: string, title: string): string {
  const slug = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
    .slice(0, 40)
    .replace(/-+$/g, '');
  const short = sessionId.replace(/-/g, '').slice(0, 8);
  return assertSafeRef(slug ? `orchestrator/${short}-${slug}` : `orchestrator/${short}`, 'branch');
}

/**
 * Repository config keys that make git run a program or load other config: a repository that sets
 * any of them is refused (its agent could have written them; the orchestrator's own git commands
 * would run them outside the sandbox). `core.fsmonitor` is allowed only as `false`.
 */
export function unsafeGitConfigKeys(entries: ReadonlyArray<readonly [string, string]>): string[] {
  const unsafe = entries
    .filter(([key, value]) => {
      const k = key.toLowerCase();
      if (k === 'core.fsmonitor') return value.trim().toLowerCase() !== 'false';
      return (
        /^filter\..+\.(clean|smudge|process)$/.test(k) ||
        /^diff\..+\.(textconv|command)$/.test(k) ||
        /^merge\..+\.driver$/.test(k) ||
        /^include\.path$/.test(k) ||
        /^includeif\..+\.path$/.test(k) ||
        /^core\.(hookspath|pager|editor|sshcommand|askpass|gitproxy|attributesfile|excludesfile)$/.test(k) ||
        /^(diff\.external|sequence\.editor|gpg\.program|credential\..*helper)$/.test(k) ||
        /^pager\./.test(k) ||
        /(command|\.cmd)$/.test(k)
      );
    })
    .map(([key]) => key);
  return [...new Set(unsafe)];
}

/** `orchestrator/plan-<first 8 hex digits of the plan id>`: the integration branch a plan's tasks merge into. */
export function planBranchName(planId: string): string {
  const short = planId.replace(/-/g, '').slice(0, 8).toLowerCase();
  if (!/^[0-9a-f]{8}$/.test(short)) {
    throw new WorkspaceError(WorkspaceErrorCode.GIT_REF_INVALID, `plan id "${planId}" does not start with 8 hex digits to name its branch`, { field: 'planId' });
  }
  return `orchestrator/plan-${short}`;
}

/** The fair-lock resource merges into one repository queue on: one merge at a time moves its branches. */
export function mergeQueueResource(repositoryRoot: string): string {
  return `git-merge:${repositoryRoot}`;
}
