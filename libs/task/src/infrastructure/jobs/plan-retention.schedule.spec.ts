import { AppConfig } from '@app/config';
import type { MaintenanceJob, MaintenanceJobs } from '@app/platform';
import type { PlanRetentionService } from '../../application/plan-retention.service';
import { PlanRetentionSchedule } from './plan-retention.schedule';

describe('PlanRetentionSchedule', () => {
  function scheduled(env: Record<string, string>) {
    const registered: MaintenanceJob[] = [];
    const jobs = { register: (job: MaintenanceJob) => registered.push(job) } as unknown as MaintenanceJobs;
    const runs: Array<AbortSignal | undefined> = [];
    const retention = { prune: async (_now: Date, signal?: AbortSignal) => void runs.push(signal) } as unknown as PlanRetentionService;
    new PlanRetentionSchedule(jobs, retention, AppConfig.with(env)).onModuleInit();
    return { registered, runs };
  }

  it('registers one hourly maintenance job under a fixed name, whose run prunes plans', async () => {
    const { registered, runs } = scheduled({ RETENTION_DAYS: '7' });
    expect(registered).toEqual([{ name: 'plan-retention', everyMs: 3_600_000, run: expect.any(Function) }]);
    const signal = new AbortController().signal;
    await registered[0].run(signal);
    expect(runs).toEqual([signal]);
  });

  it('unschedules it with RETENTION_DAYS=0', () => {
    expect(scheduled({ RETENTION_DAYS: '0' }).registered).toEqual([{ name: 'plan-retention', everyMs: null, run: expect.any(Function) }]);
  });
});
