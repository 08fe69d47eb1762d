import { SessionError, SessionErrorCode } from '../domain/session.errors';

/** Whether a write lost a race: the row changed since it was read (see SessionRepositoryPort.update). */
export function isVersionConflict(err: unknown): err is SessionError {
  return err instanceof SessionError && err.code === SessionErrorCode.VERSION_CONFLICT;
}

/**
 * Runs `work` again while it fails with VERSION_CONFLICT, at most `tries` times in all; `work`
 * gets the try's number (1 first) so that it can reuse the copy in hand on the first try and
 * reload after. Any other error goes on at once. When every try conflicted, throws what
 * `exhausted` makes of the last conflict (the conflict itself without it).
 */
export async function retryOnConflict<T>(
  tries: number,
  work: (attempt: number) => Promise<T>,
  exhausted: (conflict: SessionError) => Error = (conflict) => conflict,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (!isVersionConflict(err)) throw err;
      if (attempt >= tries) throw exhausted(err);
    }
  }
}
