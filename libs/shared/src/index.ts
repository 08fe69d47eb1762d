export * from './domain-error';
export * from './access';
export * from './http/error-response.dto';
export * from './http/access.decorators';
export * from './http/principal-reach';
