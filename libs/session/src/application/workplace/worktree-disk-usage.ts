import { Inject, Injectable, Optional } from '@nestjs/common';
import { WORKSPACE_PORT, WorkspacePort } from '@app/workspace';
import { WORKTREE_METRICS, WorktreeMetricsPort } from '../ports/worktree-metrics.port';

/** A measure is reused this long: walking a big WORKTREES_DIR is not free, and probes come often. */
const MEASURE_TTL_MS = 60_000;

export interface WorktreeDiskReport {
  directory: string;
  bytes: number;
  measuredAt: Date;
}

/** Disk used by session worktrees, measured at most once a minute, for the health details and the metric. */
@Injectable()
export class WorktreeDiskUsage {
  private last?: WorktreeDiskReport;
  private measuring?: Promise<WorktreeDiskReport>;

  constructor(
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    @Optional() @Inject(WORKTREE_METRICS) private readonly metrics: WorktreeMetricsPort | null = null,
  ) {}

  /** The last measure when fresh, else a new one (concurrent callers share it). */
  async report(now = Date.now()): Promise<WorktreeDiskReport> {
    if (this.last && now - this.last.measuredAt.getTime() < MEASURE_TTL_MS) return this.last;
    return this.measure();
  }

  /** Measures now. */
  measure(): Promise<WorktreeDiskReport> {
    this.measuring ??= (async () => {
      try {
        const directory = await this.workspaces.worktreesDirectory();
        const report = { directory, bytes: await this.workspaces.diskUsage(directory), measuredAt: new Date() };
        this.metrics?.diskUsed(report.bytes);
        this.last = report;
        return report;
      } finally {
        this.measuring = undefined;
      }
    })();
    return this.measuring;
  }
}
