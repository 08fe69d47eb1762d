import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * A Lua script run with EVALSHA, and with EVAL (which caches it again) when Redis does not have it
 * (after a SCRIPT FLUSH or a restart). Unlike ioredis's defineCommand, which names one command per
 * connection, any number of scripts made at run time (one per namespace) can share a connection.
 */
export class LuaScript<Reply> {
  readonly sha: string;

  constructor(
    readonly lua: string,
    private readonly numberOfKeys: number,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  run(redis: Redis, ...keysAndArgs: (string | number)[]): Promise<Reply> {
    return (redis.evalsha(this.sha, this.numberOfKeys, ...keysAndArgs) as Promise<Reply>).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return redis.eval(this.lua, this.numberOfKeys, ...keysAndArgs) as Promise<Reply>;
    });
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
