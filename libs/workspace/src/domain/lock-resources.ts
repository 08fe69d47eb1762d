/**
 * The fair lock a shared session holds on its workspace for its whole run (symlinks resolved: one
 * directory, one lock). A merge into the branch checked out at a repository's top takes it too, so
 * that no shared session writes there while the target moves.
 */
export function workspaceLockResource(canonicalWorkspace: string): string {
  return `workspace:${canonicalWorkspace}`;
}
