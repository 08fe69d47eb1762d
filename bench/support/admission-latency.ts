import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { AppConfig, ConfigModule } from '@app/config';
import { REDIS_CLIENT, RedisModule } from '@app/platform';
import { CapacityModule, CapacityPermit, ProviderCapacityService } from '@app/capacity';
import { percentile } from './stats';

export interface AdmissionLatencyOptions {
  /** distinct sessions asking (default 1000) */
  sessions?: number;
  /** models with a rule each (default 50) */
  models?: number;
  /** measured rounds; every waiting session asks once per round (default 8) */
  rounds?: number;
  /** chance per round that a session holding a permit releases it (default 0.3) */
  releaseChance?: number;
  /** Redis key prefix (default bench-admission-<pid>); deleted at the end */
  prefix?: string;
}

export interface LatencyFigures {
  p50Ms: number;
  p99Ms: number;
  decisions: number;
  admitted: number;
}

export interface AdmissionLatencyResult extends LatencyFigures {
  /** the same decisions, each one Redis GET: the floor of any decision held in Redis */
  baseline: LatencyFigures;
}

/**
 * p50/p99 of ProviderCapacityService.admit() (the real CapacityModule on the local Redis, rules
 * `rehearsal-bench/m<i>=concurrency:2,rpm:100000`) with `sessions` sessions over `models`
 * models asking in rounds, one at a time; admitted sessions release now and then, so most asks
 * are refusals (concurrency) and some admissions (the rpm window too). The baseline makes the
 * same sequence of decisions with one GET each, on the same connection, rounds interleaved.
 */
export async function measureAdmissionLatency(options: AdmissionLatencyOptions = {}): Promise<AdmissionLatencyResult> {
  const sessions = options.sessions ?? 1_000;
  const models = options.models ?? 50;
  const rounds = options.rounds ?? 8;
  const releaseChance = options.releaseChance ?? 0.3;
  const prefix = options.prefix ?? `bench-admission-${process.pid}`;
  const limits = Array.from({ length: models }, (_, i) => `rehearsal-bench/m${i}=concurrency:2,rpm:100000`).join(';');
  const config = AppConfig.with({ QUEUE_PREFIX: prefix, PROVIDER_LIMITS: limits, LOG_LEVEL: 'warn' });

  @Module({ imports: [ConfigModule.forRoot(config), RedisModule, CapacityModule] })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error', 'warn'] });
  const capacity = app.get(ProviderCapacityService);
  const redis = app.get<Redis>(REDIS_CLIENT);
  try {
    const modelOf = (s: number) => `rehearsal-bench/m${s % models}`;
    const permits = new Map<number, CapacityPermit>();
    const capacityMs: number[] = [];
    const baselineMs: number[] = [];
    let admitted = 0;
    let baselineAdmitted = 0;

    const capacityRound = async (record: boolean) => {
      for (let s = 0; s < sessions; s++) {
        const permit = permits.get(s);
        if (permit) {
          if (Math.random() < releaseChance) {
            await capacity.release(permit);
            permits.delete(s);
          }
          continue;
        }
        const started = process.hrtime.bigint();
        const admission = await capacity.admit({ sessionId: `bench-session-${s}`, model: modelOf(s) });
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (admission.admitted) permits.set(s, admission.permit);
        if (!record) continue;
        capacityMs.push(ms);
        if (admission.admitted) admitted++;
      }
    };
    // The floor: the same decision read from Redis with one GET (a counter per model standing
    // in for its holders), the same holding and releasing around it.
    const held = new Map<number, boolean>();
    const counts = new Array<number>(models).fill(0);
    const baselineRound = async (record: boolean) => {
      for (let s = 0; s < sessions; s++) {
        if (held.get(s)) {
          if (Math.random() < releaseChance) {
            held.delete(s);
            counts[s % models]--;
          }
          continue;
        }
        const started = process.hrtime.bigint();
        await redis.get(`${prefix}:baseline:${modelOf(s)}`);
        const ok = counts[s % models] < 2;
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (ok) {
          held.set(s, true);
          counts[s % models]++;
        }
        if (!record) continue;
        baselineMs.push(ms);
        if (ok) baselineAdmitted++;
      }
    };

    await capacityRound(false); // warm-up: scripts loaded, JIT warm
    await baselineRound(false);
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so that neither always follows the other's garbage.
      if (round % 2 === 0) {
        await capacityRound(true);
        await baselineRound(true);
      } else {
        await baselineRound(true);
        await capacityRound(true);
      }
    }
    for (const permit of permits.values()) await capacity.release(permit);
    const figures = (ms: number[], n: number): LatencyFigures => ({ p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), decisions: ms.length, admitted: n });
    return { ...figures(capacityMs, admitted), baseline: figures(baselineMs, baselineAdmitted) };
  } finally {
    const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
    await app.close();
  }
}
