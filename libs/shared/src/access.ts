/**
 * Who is calling, as the API's guard established it. Kernel types: every context's use cases
 * may take a Principal (or the parts they need) without knowing how keys work.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** viewer: reads; operator: sessions, plans, approvals; admin: also agents' writes, keys, the job dashboard's actions. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The key id of the bootstrap admin key, API_KEY. */
export const BOOTSTRAP_KEY_ID = 'bootstrap';

export interface Principal {
  /** The API key's id; BOOTSTRAP_KEY_ID for API_KEY; null when API_KEY is unset (auth off, loopback only). */
  keyId: string | null;
  /** The key's name, for logs. */
  name: string;
  role: Role;
  /** Directories this key's workspaces must resolve into (inside WORKSPACE_ROOTS); null: any root. */
  workspaceRoots: readonly string[] | null;
}

/** With API_KEY unset the API is open to local callers: every request acts as this admin. */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({ keyId: null, name: 'anonymous', role: 'admin', workspaceRoots: null });

/**
 * Whether a key may act on what lives in `workspace` (a stored, resolved path): any workspace when
 * the key has no roots, else one inside a root. Creation is checked by WorkspacePort.resolve; this
 * is for commands on sessions and plans that exist already (start, retry, cancel, edit, delete).
 */
export function principalReaches(principal: Principal, workspace: string): boolean {
  if (!principal.workspaceRoots) return true;
  return principal.workspaceRoots.some((root) => isInside(workspace, root));
}

/**
 * True when `path` is `dir` or below it, by whole segments (`/srv/workshop` is not inside
 * `/srv/work`). Both absolute and normalised (resolved), no trailing slash but for "/".
 */
export function isInside(path: string, dir: string): boolean {
  if (dir === '/') return path.startsWith('/');
  return path === dir || path.startsWith(`${dir}/`);
}
