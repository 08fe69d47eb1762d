import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The monitoring config as Prometheus itself reads it: check.sh runs promtool's config and
 * rules checks and the alert rules' unit tests (installing Debian's promtool when missing).
 */
describe('monitoring config (promtool)', () => {
  it('passes promtool check config, check rules and test rules', async () => {
    const { stdout } = await promisify(execFile)('bash', [join(__dirname, 'check.sh')], { timeout: 240_000, maxBuffer: 16 << 20 });
    expect(stdout).toMatch(/SUCCESS/);
  }, 300_000);
});
