import { testConfig, openTestDataSource } from '../../../test/support/database';
import { timeoutsOf } from './postgres-connection';

describe('PostgreSQL connections', () => {
  it('carry the statement timeout: PostgreSQL cancels a statement that runs longer', async () => {
    const dataSource = await openTestDataSource(testConfig({ DB_STATEMENT_TIMEOUT_MS: '500' }));
    try {
      expect(await dataSource.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '500ms' }]);
      const asked = Date.now();
      await expect(dataSource.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
      expect(Date.now() - asked).toBeLessThan(4_000);
    } finally {
      await dataSource.destroy();
    }
  });

  it('have no statement timeout with 0, and keepalive as configured', () => {
    expect(timeoutsOf({ ...testConfig().database, statementTimeoutMs: 0, keepAliveSeconds: 0 })).toEqual({ keepAlive: false });
    expect(timeoutsOf({ ...testConfig().database, statementTimeoutMs: 1_000, keepAliveSeconds: 10 })).toEqual({
      statement_timeout: 1_000,
      query_timeout: 6_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
  });
});
