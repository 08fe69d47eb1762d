/**
 * Admission latency of provider capacity control: ProviderCapacityService.admit() with 1,000
 * sessions queued over 50 models (concurrency 2 each, so most asks are refused), against the
 * floor of any decision held in Redis, one GET, in the same run. Goal: admit p99 < 2 ms.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/admission-latency.bench.ts
 *
 * Env: BENCH_ROUNDS (8), BENCH_SESSIONS (1000), BENCH_MODELS (50). Needs the local Redis.
 */
import { measureAdmissionLatency } from './support/admission-latency';

const GOAL_P99_MS = 2;

async function main(): Promise<void> {
  const result = await measureAdmissionLatency({
    rounds: Number(process.env.BENCH_ROUNDS ?? 8),
    sessions: Number(process.env.BENCH_SESSIONS ?? 1_000),
    models: Number(process.env.BENCH_MODELS ?? 50),
  });
  const { baseline } = result;
  const line = (name: string, f: { p50Ms: number; p99Ms: number; decisions: number; admitted: number }) =>
    `${name.padEnd(28)} p50 ${f.p50Ms.toFixed(3)} ms   p99 ${f.p99Ms.toFixed(3)} ms   ${f.decisions} decisions, ${f.admitted} admitted`;
  console.log(line('ProviderCapacityService', result));
  console.log(line('baseline: one Redis GET', baseline));
  console.log(`ratio (admit / GET): p50 ${(result.p50Ms / baseline.p50Ms).toFixed(2)}x, p99 ${(result.p99Ms / baseline.p99Ms).toFixed(2)}x`);
  console.log(`goal p99 < ${GOAL_P99_MS} ms: ${result.p99Ms < GOAL_P99_MS ? 'met' : 'NOT met'}`);
  if (result.p99Ms >= GOAL_P99_MS) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
