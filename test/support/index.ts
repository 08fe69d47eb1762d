import axios from 'axios';
import {
  ChatCompletionRequest,
  OpencodeHttpClient,
  REHEARSAL_REQUESTS_PATH,
  StaticOpencodeEndpoint,
} from '@app/opencode';

export { waitFor } from './wait';
export { git, makeTempWorkspace, removeTempWorkspaces } from './temp-workspace';
export type { TempWorkspaceOptions } from './temp-workspace';

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

/**
 * What the shared rehearsal provider received lately (it runs in the jest parent process), oldest
 * first. Every test file talks to it, possibly at the same time: pass a marker that only your
 * prompt contains to get the requests of your turns alone.
 */
export async function rehearsalRequests(marker?: string): Promise<ChatCompletionRequest[]> {
  const base = process.env.REHEARSAL_PROVIDER_URL;
  if (!base) throw new Error('REHEARSAL_PROVIDER_URL is not set: the global setup did not start the rehearsal provider');
  const { data } = await axios.get<ChatCompletionRequest[]>(new URL(REHEARSAL_REQUESTS_PATH, base).toString());
  if (marker === undefined) return data;
  return data.filter((r) => (r.messages ?? []).some((m) => m.role === 'user' && textOf(m.content).includes(marker)));
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part: { text?: string }) => part.text ?? '').join('');
  return '';
}
