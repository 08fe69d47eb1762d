import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import axios from 'axios';
import {
  ChatCompletionRequest,
  OpencodeHttpClient,
  REHEARSAL_REQUESTS_PATH,
  StaticOpencodeEndpoint,
} from '@app/opencode';

export { waitFor } from './wait';

export interface TempWorkspaceOptions {
  /** Initialise a git work tree with one commit (OpenCode's per-turn diff needs git). */
  git?: boolean;
  /** Files to create first, by relative path. */
  files?: Record<string, string>;
}

const createdDirs = new Set<string>();

/** A fresh directory for an agent to work in; removed by removeTempWorkspaces(). */
export function makeTempWorkspace(options: TempWorkspaceOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-ws-'));
  createdDirs.add(dir);
  for (const [path, content] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  if (options.git) {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
    git('init', '-q');
    git('add', '-A');
    git('-c', 'user.email=tests@example.invalid', '-c', 'user.name=tests', 'commit', '-q', '--allow-empty', '-m', 'initial');
  }
  return dir;
}

export function removeTempWorkspaces(): void {
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true });
  createdDirs.clear();
}

/** The shared OpenCode server started by the global setup (integration and e2e projects only). */
export function testOpencodeEndpoint(): StaticOpencodeEndpoint {
  const { OPENCODE_HOST, OPENCODE_PORT, OPENCODE_PASSWORD, OPENCODE_MODEL } = process.env;
  if (!OPENCODE_HOST || !OPENCODE_PORT) {
    throw new Error('No test OpenCode server: run this spec in the integration or e2e jest project (global setup)');
  }
  return StaticOpencodeEndpoint.fromHost(OPENCODE_HOST, Number(OPENCODE_PORT), OPENCODE_PASSWORD || undefined, OPENCODE_MODEL || undefined);
}

export function testOpencodeClient(): OpencodeHttpClient {
  return new OpencodeHttpClient(testOpencodeEndpoint());
}

/** What the shared rehearsal provider received lately (it runs in the jest parent process). */
export async function rehearsalRequests(): Promise<ChatCompletionRequest[]> {
  const base = process.env.REHEARSAL_PROVIDER_URL;
  if (!base) throw new Error('REHEARSAL_PROVIDER_URL is not set: the global setup did not start the rehearsal provider');
  const { data } = await axios.get<ChatCompletionRequest[]>(new URL(REHEARSAL_REQUESTS_PATH, base).toString());
  return data;
}
