import { SessionError, SessionErrorCode } from '../domain/session.errors';
import { isVersionConflict, retryOnConflict } from './retry-on-conflict';

describe('retryOnConflict', () => {
  const conflict = () => SessionError.versionConflict('s1', 1);

  it('tries again after a version conflict, telling the work which try it is', async () => {
    const tries: number[] = [];
    const result = await retryOnConflict(3, async (attempt) => {
      tries.push(attempt);
      if (attempt < 3) throw conflict();
      return 'written';
    });
    expect(result).toBe('written');
    expect(tries).toEqual([1, 2, 3]);
  });

  it('passes any other error on at once', async () => {
    const work = jest.fn(async () => {
      throw new SessionError(SessionErrorCode.INVALID_TRANSITION, 'no');
    });
    await expect(retryOnConflict(3, work)).rejects.toMatchObject({ code: SessionErrorCode.INVALID_TRANSITION });
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('gives up after the last try with the conflict, or with what `exhausted` makes of it', async () => {
    const always = jest.fn(async () => {
      throw conflict();
    });
    await expect(retryOnConflict(2, always)).rejects.toMatchObject({ code: SessionErrorCode.VERSION_CONFLICT });
    expect(always).toHaveBeenCalledTimes(2);
    await expect(retryOnConflict(2, always, () => new Error('too many concurrent changes'))).rejects.toThrow('too many concurrent changes');
  });

  it('knows a version conflict from other errors', () => {
    expect(isVersionConflict(conflict())).toBe(true);
    expect(isVersionConflict(SessionError.notFound('s1'))).toBe(false);
    expect(isVersionConflict(new Error('VERSION_CONFLICT'))).toBe(false);
  });
});
