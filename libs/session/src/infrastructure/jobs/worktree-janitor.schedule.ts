import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { errorMessage } from '@app/shared';
import { WorktreeJanitor } from '../../application/workplace/worktree-janitor';

/** How often the janitor sweeps after the sweep at start. */
const JANITOR_INTERVAL_MS = 10 * 60_000;

/**
 * Runs the worktree janitor once when the worker starts (orphans of a crash: interrupted merges,
 * stale worktrees, branches of deleted sessions) and then every ten minutes.
 */
@Injectable()
export class WorktreeJanitorSchedule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorktreeJanitorSchedule.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly janitor: WorktreeJanitor) {}

  onApplicationBootstrap(): void {
    this.running = this.sweep();
    this.timer = setInterval(() => {
      this.running ??= this.sweep();
    }, JANITOR_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async sweep(): Promise<void> {
    try {
      const report = await this.janitor.sweep();
      const changed = report.expired.length + report.deletedBranches.length + report.removedSlots.length;
      if (changed > 0) {
        this.logger.log(
          `Worktrees: ${report.expired.length} branch(es) expired, ${report.deletedBranches.length} orphan branch(es) deleted, ${report.removedSlots.length} slot(s) removed`,
        );
      }
    } catch (err) {
      this.logger.warn(`Worktree janitor: ${errorMessage(err)}`);
    } finally {
      this.running = undefined;
    }
  }
}
