import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { isFinal, SessionTransitionPublisher } from '@app/session';
import { PlanKicker } from '../../application/plan-kicker';
import { PlanScheduler } from '../../application/plan-scheduler';
import { PLAN_REPOSITORY, PlanRepositoryPort } from '../../application/ports/plan.repository.port';
import { errorMessage } from '@app/shared';

const PLAN_TICK_MS = 1_000;

/**
 * The scheduler's loop, in every process that runs the session worker: every PLAN_TICK_MS it
 * advances each active plan, and at once when a plan's session ends in this process (a committed
 * SessionTransitioned) or a plan is run here. Another process's changes are seen at the next tick. Ticks of
 * one plan never overlap in a process; across processes the plan lock skips a busy plan.
 */
@Injectable()
export class PlanSchedulerLoop implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(PlanSchedulerLoop.name);
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private sweeping = false;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly scheduler: PlanScheduler,
    @Inject(PLAN_REPOSITORY) private readonly plans: PlanRepositoryPort,
    private readonly sessionTransitions: SessionTransitionPublisher,
    private readonly kicker: PlanKicker,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe.push(
      this.sessionTransitions.observe(({ origin, to }) => {
        if (origin.kind === 'plan' && isFinal(to)) setImmediate(() => this.kick(origin.planId));
      }),
      this.kicker.onKick((planId) => this.kick(planId)),
    );
    this.timer = setInterval(() => void this.sweep(), PLAN_TICK_MS);
    // Resumes the plans left RUNNING by a previous process at once.
    void this.sweep();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe.forEach((off) => off());
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopping) return;
    this.sweeping = true;
    try {
      for (const id of await this.plans.activePlanIds()) this.kick(id);
    } catch (err) {
      this.logger.warn(`Could not list active plans: ${errorMessage(err)}`);
    } finally {
      this.sweeping = false;
    }
  }

  private kick(planId: string): void {
    if (this.stopping) return;
    if (this.inFlight.has(planId)) {
      this.again.add(planId);
      return;
    }
    const run = this.scheduler
      .advance(planId)
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn(`Plan ${planId}: tick failed (retried at the next one): ${errorMessage(err)}`))
      .finally(() => {
        this.inFlight.delete(planId);
        if (this.again.delete(planId)) this.kick(planId);
      });
    this.inFlight.set(planId, run);
  }
}
