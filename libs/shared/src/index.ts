export * from './domain-error';
export * from './http/error-response.dto';
