import { execFileSync, execSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** The machine's own start command for its Redis (see .ci/run); it keeps nothing on disk. */
const START_REDIS =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

function redisAnswers(): boolean {
  try {
    return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { encoding: 'utf8' }).trim() === 'PONG';
  } catch {
    return false;
  }
}

/** Starts the local Redis when it does not answer, and waits until it does. */
export async function ensureRedisUp(): Promise<void> {
  if (redisAnswers()) return;
  execSync(START_REDIS, { stdio: 'ignore' });
  for (let i = 0; i < 50 && !redisAnswers(); i++) await sleep(100);
  if (!redisAnswers()) throw new Error('the local Redis did not come back');
}

/** Stops the local Redis (losing everything in it, as a crash would) and starts it again. */
export async function restartRedis(downForMs = 500): Promise<void> {
  try {
    execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'shutdown', 'nosave'], { stdio: 'ignore' });
  } catch {
    // redis-cli reports the dropped connection of a shutdown as an error
  }
  for (let i = 0; i < 50 && redisAnswers(); i++) await sleep(100);
  await sleep(downForMs);
  await ensureRedisUp();
}
