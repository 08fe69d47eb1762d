import { AxiosError, AxiosHeaders } from 'axios';
import { describeErrorBody, OpencodeError } from './opencode-error';

function axiosErrorWith(status: number | undefined, data?: unknown, code?: string): AxiosError {
  const config = { headers: new AxiosHeaders() };
  const response =
    status === undefined ? undefined : { status, statusText: '', data, headers: {}, config };
  return new AxiosError('request failed', code, config, undefined, response);
}

describe('OpencodeError', () => {
  it('reads the {name, data.message} shape', () => {
    const err = OpencodeError.from(axiosErrorWith(404, { name: 'NotFoundError', data: { message: 'Session not found: ses_x' } }), 'get session');
    expect(err).toMatchObject({ status: 404, code: 'NotFoundError', message: 'get session: Session not found: ses_x' });
    expect(err.isNotFound).toBe(true);
    expect(err.isUnavailable).toBe(false);
  });

  it('reads the {_tag, message} shape', () => {
    const err = OpencodeError.from(axiosErrorWith(400, { _tag: 'InvalidInput', message: 'bad directory' }), 'prompt');
    expect(err).toMatchObject({ status: 400, code: 'InvalidInput', message: 'prompt: bad directory' });
  });

  it('treats a missing answer as unavailable', () => {
    const err = OpencodeError.from(axiosErrorWith(undefined, undefined, 'ECONNREFUSED'), 'health');
    expect(err.code).toBe('UNREACHABLE');
    expect(err.isUnavailable).toBe(true);
    expect(OpencodeError.from(axiosErrorWith(undefined, undefined, 'ECONNABORTED'), 'x').code).toBe('TIMEOUT');
  });

  it('names a 401 without a body', () => {
    const err = OpencodeError.from(axiosErrorWith(401, ''), 'health');
    expect(err).toMatchObject({ code: 'HTTP_401', isUnauthorized: true });
    expect(err.message).toContain('password');
  });

  it('describes plain-text and OpenAI-style bodies', () => {
    expect(describeErrorBody('oops')).toEqual({ message: 'oops' });
    expect(describeErrorBody({ error: { message: 'quota' } })).toEqual({ message: 'quota' });
    expect(describeErrorBody('{"name":"X","data":{"message":"y"}}')).toEqual({ name: 'X', message: 'y' });
  });
});
