import { AppConfig } from './app-config';
import { ConfigValidationError } from './env.schema';

describe('AppConfig retention (RETENTION_DAYS, RETENTION_BATCH_SIZE)', () => {
  it('keeps finished work 30 days and prunes 500 rows per statement by default', () => {
    expect(AppConfig.fromEnvironment({}).retention).toEqual({ days: 30, batchSize: 500 });
  });

  it('reads both, RETENTION_DAYS=0 meaning keep for ever', () => {
    expect(AppConfig.fromEnvironment({ RETENTION_DAYS: '7', RETENTION_BATCH_SIZE: '50' }).retention).toEqual({ days: 7, batchSize: 50 });
    expect(AppConfig.fromEnvironment({ RETENTION_DAYS: '0' }).retention.days).toBe(0);
  });

  it.each([
    ['RETENTION_DAYS', '-1'],
    ['RETENTION_DAYS', 'thirty'],
    ['RETENTION_DAYS', '1.5'],
    ['RETENTION_DAYS', '36501'],
    ['RETENTION_BATCH_SIZE', '0'],
    ['RETENTION_BATCH_SIZE', '10001'],
    ['RETENTION_BATCH_SIZE', 'many'],
  ])('stops with a message naming %s=%s', (name, value) => {
    expect(() => AppConfig.fromEnvironment({ [name]: value })).toThrow(ConfigValidationError);
    expect(() => AppConfig.fromEnvironment({ [name]: value })).toThrow(new RegExp(`^  ${name}=`, 'm'));
  });
});
