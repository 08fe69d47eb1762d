import type { FleetServerView } from '../fleet/opencode-fleet';
import type { ServerDto } from './dto/server.dto';

/** The listed view, field by field: whatever a worker might add to what it publishes stays out of the API. */
export function presentServer(view: FleetServerView): ServerDto {
  return {
    id: view.id,
    url: view.url,
    managed: view.managed,
    sandboxed: view.sandboxed ?? null,
    pid: view.pid,
    workerId: view.workerId,
    state: view.state,
    rssMb: view.rssMb,
    startedAt: view.startedAt,
    sessionsRunning: view.sessionsRunning,
    sessionsServed: view.sessionsServed,
    maxSessions: view.maxSessions,
    latencyMs: { p50: view.latencyMs.p50, p95: view.latencyMs.p95 },
    lastError: view.lastError,
    drainReason: view.drainReason,
    reconnects: view.reconnects,
  };
}
