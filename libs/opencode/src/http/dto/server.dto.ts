import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';
import { FLEET_SERVER_STATES } from '../../fleet/fleet-labels';
import type { FleetServerState } from '../../fleet/fleet-policy';

/** Server ids are `<workerId>-m<slot>g<generation>` or `<workerId>-x<index>`: letters, digits and hyphens. */
export const SERVER_ID_PATTERN = /^[A-Za-z0-9-]{1,120}$/;

export class ServerIdParamDto {
  @ApiProperty({ description: 'A server id as GET /api/v1/servers lists it', pattern: SERVER_ID_PATTERN.source, example: 'web-1-4242-m0g1' })
  @Matches(SERVER_ID_PATTERN, { message: 'id must be a server id: 1 to 120 letters, digits and hyphens' })
  id: string;
}

export class ServerLatencyDto {
  @ApiProperty({ type: Number, nullable: true, description: 'Median of the last 60 health probes, ms; null before the first answer', example: 3.1 })
  p50: number | null;
  @ApiProperty({ type: Number, nullable: true, description: '95th percentile of the last 60 health probes, ms', example: 12.4 })
  p95: number | null;
}

/** One OpenCode server of one worker process, as that worker last published it. */
export class ServerDto {
  @ApiProperty({ description: 'A managed server: <workerId>-m<slot>g<generation>, unique. An external one: ext-<12 hex of its URL>, the same in every worker that uses it (each lists it)', example: 'web-1-4242-m0g1' })
  id: string;
  @ApiProperty({ description: 'Where the worker reaches it; never with credentials', example: 'http://127.0.0.1:41234' })
  url: string;
  @ApiProperty({ description: 'true: an `opencode serve` the worker started and supervises (recycled, replaced); false: one you run (OPENCODE_HOST, OPENCODE_HOSTS)' })
  managed: boolean;
  @ApiProperty({ type: Boolean, nullable: true, description: 'A managed server runs in the bubblewrap sandbox; null for an external one' })
  sandboxed: boolean | null;
  @ApiProperty({ type: Number, nullable: true, description: "The managed server's process id on the worker's host; null for an external one", example: 4321 })
  pid: number | null;
  @ApiProperty({ description: 'The worker process that runs (or uses) it: <host>-<pid>', example: 'web-1-4242' })
  workerId: string;
  @ApiProperty({
    enum: FLEET_SERVER_STATES,
    description:
      'STARTING: launched, not answering yet. READY: takes new runs. DRAINING: no new runs, its runs finish (a managed one is then replaced). ' +
      'UNHEALTHY: failed its last health probes, no new runs. STOPPED: retired, or its worker stopped reporting',
  })
  state: FleetServerState;
  @ApiProperty({ type: Number, nullable: true, description: "Resident memory of the managed server's process tree, MB; null for an external one", example: 812 })
  rssMb: number | null;
  @ApiProperty({ format: 'date-time', description: 'When it started answering (an external one: when the worker began using it)' })
  startedAt: string;
  @ApiProperty({ description: 'Runs (turns) on it now', example: 3 })
  sessionsRunning: number;
  @ApiProperty({ description: 'Runs that ended on it since it started', example: 117 })
  sessionsServed: number;
  @ApiProperty({ description: 'Runs it takes at once (OPENCODE_SERVER_MAX_SESSIONS)', example: 25 })
  maxSessions: number;
  @ApiProperty({ type: ServerLatencyDto, description: 'Health probe latency (probes every 2 s)' })
  latencyMs: ServerLatencyDto;
  @ApiProperty({ type: String, nullable: true, description: 'The last failed probe or start, or why it is listed STOPPED' })
  lastError: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why it drains: a drain asked for through the API, or the recycle limit it passed', example: 'recycle: served 1000 sessions (OPENCODE_RECYCLE_AFTER_SESSIONS=1000)' })
  drainReason: string | null;
  @ApiProperty({ description: 'Times the event streams of its turns had to reconnect', example: 0 })
  reconnects: number;
}

export class ServerListDto {
  @ApiProperty({ type: [ServerDto], description: 'Every server of every worker, by worker then id' })
  items: ServerDto[];
}
