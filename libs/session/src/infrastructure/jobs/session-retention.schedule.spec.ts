import { AppConfig } from '@app/config';
import type { MaintenanceJob, MaintenanceJobs } from '@app/platform';
import type { SessionRetentionService } from '../../application/session-retention.service';
import { SESSION_RETENTION_EVERY_MS, SESSION_RETENTION_JOB, SessionRetentionSchedule } from './session-retention.schedule';

describe('SessionRetentionSchedule', () => {
  function scheduled(env: Record<string, string>) {
    const registered: MaintenanceJob[] = [];
    const jobs = { register: (job: MaintenanceJob) => registered.push(job) } as unknown as MaintenanceJobs;
    const runs: Array<{ now: Date; signal?: AbortSignal }> = [];
    const retention = { prune: async (now: Date, signal?: AbortSignal) => void runs.push({ now, signal }) } as unknown as SessionRetentionService;
    new SessionRetentionSchedule(jobs, retention, AppConfig.with(env)).onModuleInit();
    return { registered, runs };
  }

  it('registers one hourly maintenance job under a fixed name, whose run prunes now', async () => {
    const { registered, runs } = scheduled({ RETENTION_DAYS: '30' });
    expect(registered).toEqual([{ name: 'session-retention', everyMs: 3_600_000, run: expect.any(Function) }]);
    expect(SESSION_RETENTION_JOB).toBe('session-retention');
    expect(SESSION_RETENTION_EVERY_MS).toBe(3_600_000);
    const signal = new AbortController().signal;
    const before = Date.now();
    await registered[0].run(signal);
    expect(runs).toHaveLength(1);
    expect(runs[0].signal).toBe(signal);
    expect(runs[0].now.getTime()).toBeGreaterThanOrEqual(before);
  });

  it('unschedules it with RETENTION_DAYS=0', () => {
    expect(scheduled({ RETENTION_DAYS: '0' }).registered).toEqual([{ name: 'session-retention', everyMs: null, run: expect.any(Function) }]);
  });
});
