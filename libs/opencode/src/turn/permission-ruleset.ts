/**
 * The orchestrator's policy for one OpenCode session, as the permission ruleset sent with
 * `POST /session`. Pure: unit-tested without a server.
 *
 * How OpenCode 1.18.33 uses it (measured): for every tool call it evaluates the agent's rules
 * (built-in defaults, then the server config, the workspace's opencode.json and .opencode
 * agents), then the session's rules, and takes the LAST rule whose permission and pattern
 * match (wildcards on both; no match: `ask`). So the session ruleset is the ceiling: nothing a
 * workspace configures can loosen it, and its last rules (the hard rules here) win over
 * everything. A tool whose permission's last matching session rule is `{pattern: "*", action:
 * "deny"}` is not even offered to the model. Subagent (task tool) sessions inherit the
 * parent's `deny` rules, but not its `ask` rules.
 *
 * A prompt's `tools` map ({name: false}) REPLACES the session's ruleset with its own rules
 * (OpenCode's backwards compatibility for that field): a turn must never send it. Switched-off
 * tools are rules of this ruleset instead.
 */

import type { OpencodeSessionPermissionRule } from '../client/opencode.types';

export type PermissionAction = OpencodeSessionPermissionRule['action'];

const PERMISSION_ACTIONS: readonly PermissionAction[] = ['allow', 'ask', 'deny'];

/** What the orchestrator allows one turn: a read-only role, and the agent binding's permissions. */
export interface TurnPolicy {
  /** Read and search tools only (ARCHITECT, REVIEWER), whatever OpenCode agent or model runs the turn. */
  readOnly: boolean;
  /** OpenCode permission name (edit, bash, webfetch, ...) → action, from the agent's binding. */
  permissions: Readonly<Record<string, PermissionAction>>;
}

/** One rule of an OpenCode ruleset (OpenAPI schema PermissionRule). */
export type OpencodePermissionRule = OpencodeSessionPermissionRule;

/** A turn that names no policy: a writing turn, still under the hard rules. */
export const DEFAULT_TURN_POLICY: TurnPolicy = Object.freeze({ readOnly: false, permissions: Object.freeze({}) });

/**
 * The tools a read-only turn may use: reading and searching files, nothing else. An allow-list,
 * so that a tool a later OpenCode adds (or a plugin or MCP server brings) is off by default.
 */
const READ_ONLY_PERMISSIONS = ['read', 'glob', 'grep', 'list'] as const;

/**
 * OpenCode's own default for secrets in dotenv files, restated: a session-level `read: allow`
 * would otherwise override it. `ask` becomes an approval (or is refused at once without one).
 */
const ENV_FILE_READ_RULES: readonly OpencodePermissionRule[] = [
  { permission: 'read', pattern: '*.env', action: 'ask' },
  { permission: 'read', pattern: '*.env.*', action: 'ask' },
  { permission: 'read', pattern: '*.env.example', action: 'allow' },
];

/**
 * Permissions the orchestrator always denies, last so that nothing overrides them:
 * - external_directory: no tool touches a path outside the session's own workspace. OpenCode's
 *   own tool-output directory (where it keeps the full text of a truncated tool output) is
 *   denied too: one server serves every workspace, so reading it could show another session's
 *   output. The agent still gets the truncated output itself.
 * - question: the question tool waits for a human who is not there.
 */
const HARD_DENIED_PERMISSIONS = ['external_directory', 'question'] as const;

const HARD_RULES: readonly OpencodePermissionRule[] = HARD_DENIED_PERMISSIONS.map((permission) => ({
  permission,
  pattern: '*',
  action: 'deny' as const,
}));

/** A binding's permission name: a lowercase identifier, as OpenCode names its permissions and tools. */
const PERMISSION_NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

/** The tools that ask OpenCode's `edit` permission: switching one off is switching off `edit`. */
const EDIT_TOOLS = ['edit', 'write', 'patch', 'multiedit', 'apply_patch'];

/** The permission a tool asks for (its own name, but for the file-changing tools: `edit`). */
function permissionOfTool(tool: string): string {
  return EDIT_TOOLS.includes(tool) ? 'edit' : tool;
}

/**
 * The session ruleset of a turn, in evaluation order (the last matching rule wins):
 * 1. read-only turns: `*` denied, then the read and search tools allowed, then the dotenv rules;
 * 2. the binding's permissions, name by name (sorted, so the ruleset is deterministic). On a
 *    read-only turn only those that tighten are kept: `deny` on anything, `ask` on a read tool
 *    (an `allow` there could lift the dotenv rules, and anything else would open a writing tool);
 * 3. `task` denied when the binding asks for anything: a subagent does not inherit `ask` rules,
 *    so it would run unasked what its parent must ask for;
 * 4. the switched-off tools denied (by the permission they ask for);
 * 5. the hard rules (external_directory, question denied).
 */
export function buildSessionRuleset(policy: TurnPolicy = DEFAULT_TURN_POLICY, disabledTools: readonly string[] = []): OpencodePermissionRule[] {
  const rules: OpencodePermissionRule[] = [];
  const readTools = READ_ONLY_PERMISSIONS as readonly string[];
  if (policy.readOnly) {
    rules.push({ permission: '*', pattern: '*', action: 'deny' });
    for (const permission of READ_ONLY_PERMISSIONS) rules.push({ permission, pattern: '*', action: 'allow' });
    rules.push(...ENV_FILE_READ_RULES);
  }
  const bound = Object.entries(policy.permissions)
    .filter(([name, action]) => isPermissionName(name) && PERMISSION_ACTIONS.includes(action))
    .filter(([name]) => !(HARD_DENIED_PERMISSIONS as readonly string[]).includes(name))
    .filter(([name, action]) => !policy.readOnly || action === 'deny' || (action === 'ask' && readTools.includes(name)))
    .sort(([a], [b]) => a.localeCompare(b));
  for (const [permission, action] of bound) rules.push({ permission, pattern: '*', action });
  if (bound.some(([, action]) => action === 'ask')) rules.push({ permission: 'task', pattern: '*', action: 'deny' });
  const switchedOff = new Set(disabledTools.filter((tool) => TOOL_NAME_PATTERN.test(tool)).map(permissionOfTool));
  for (const permission of [...switchedOff].sort()) rules.push({ permission, pattern: '*', action: 'deny' });
  rules.push(...HARD_RULES);
  return rules;
}

function isPermissionName(name: string): boolean {
  return PERMISSION_NAME_PATTERN.test(name);
}
