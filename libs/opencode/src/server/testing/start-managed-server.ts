/**
 * A stand-in worker for managed-opencode-server.die-with-parent.int-spec.ts, run as its own OS process
 * so that the test can SIGKILL it: starts a ManagedOpencodeServer on the offline rehearsal provider
 * (argv: data dir, sandbox mode), prints one marked JSON line (ManagedServerReport) once the server
 * answers its health check, then waits to be killed. Exits when its stdin closes (the test process is
 * gone, however it went), which stops the server through the normal exit path.
 */
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { ManagedOpencodeServer } from '../managed-opencode-server';
import type { OpencodeSandboxMode } from '../opencode-sandbox';

export const MANAGED_SERVER_REPORT = '@@managed-server ';

export interface ManagedServerReport {
  /** The supervised process: the server itself, or bwrap when sandboxed. */
  pid: number;
  port: number;
  sandboxed: boolean;
  diesWithThisProcess: boolean;
}

async function main(): Promise<void> {
  const [dataDir, sandbox] = process.argv.slice(2) as [string, OpencodeSandboxMode];
  process.stdin.on('end', () => process.exit(1));
  process.stdin.on('error', () => process.exit(1));
  process.stdin.resume();
  const server = new ManagedOpencodeServer({
    dataDir,
    sandbox,
    // Only the PATH (read through the config, like the app).
    parentEnv: { PATH: AppConfig.fromEnvironment().processEnvironment.PATH },
    // As the app does (its own installation read-only): the sandbox's private /tmp would hide a
    // checkout under /tmp, opencode binary included.
    protectedDirs: [join(__dirname, '..', '..', '..', '..', '..')],
    logger: {
      log: () => undefined,
      warn: (message) => process.stderr.write(`warn: ${message}\n`),
      error: (message) => process.stderr.write(`error: ${message}\n`),
    },
  });
  await server.start();
  const report: ManagedServerReport = {
    pid: server.pid!,
    port: Number(new URL(server.endpoint().baseUrl).port),
    sandboxed: server.isSandboxed,
    diesWithThisProcess: server.diesWithThisProcess,
  };
  process.stdout.write(`${MANAGED_SERVER_REPORT}${JSON.stringify(report)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`start-managed-server failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
