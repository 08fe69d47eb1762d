import { AppConfig } from '@app/config';
import { MaintenanceJobs } from './maintenance-jobs';

describe('MaintenanceJobs registration', () => {
  const job = (name: string, everyMs: number | null = 60_000) => ({ name, everyMs, run: async () => undefined });

  it('takes one job per name, with an interval of at least a second or none', () => {
    const jobs = new MaintenanceJobs(AppConfig.with({}));
    jobs.register(job('a'));
    jobs.register(job('b', null));
    expect(() => jobs.register(job('a'))).toThrow('Maintenance job a is registered twice');
    expect(() => jobs.register(job('c', 10))).toThrow('Maintenance job c: everyMs must be at least 1000');
    expect(() => jobs.register(job('d', Number.NaN))).toThrow(/everyMs must be at least 1000/);
  });

  it('refuses a job registered once the application has bootstrapped (its schedule would never be written)', async () => {
    const jobs = new MaintenanceJobs(AppConfig.with({}));
    jobs.onApplicationBootstrap(); // nothing registered: opens nothing
    expect(() => jobs.register(job('late'))).toThrow('Maintenance job late registered after the application bootstrapped');
    await jobs.onApplicationShutdown();
  });
});
