import { redactToken } from './request-context.middleware';

describe('redactToken', () => {
  it('keeps an event stream’s ?access_token= out of the request log, whatever its place or case', () => {
    expect(redactToken('/api/v1/events?types=text&access_token=s3cret')).toBe('/api/v1/events?types=text&access_token=[redacted]');
    expect(redactToken('/api/v1/sessions/1/stream?access_token=s3cret&x=1')).toBe('/api/v1/sessions/1/stream?access_token=[redacted]&x=1');
    expect(redactToken('/API/v1/events?ACCESS_TOKEN=s3cret')).toBe('/API/v1/events?ACCESS_TOKEN=[redacted]');
    expect(redactToken('/api/v1/sessions')).toBe('/api/v1/sessions');
  });
});
