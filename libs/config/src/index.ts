// The configuration's public entry: what other code uses of it, nothing more.
export { ConfigModule } from './config.module';
export { AppConfig } from './app-config';
export type { ExternalOpencodeServer, OpencodeFleetConfig } from './app-config';
export { EnvironmentSchema, validateEnvironment } from './env.schema';
export { loadConfigOrExit } from './load-config';
export { parseProviderLimits, PROVIDER_LIMIT_NAMES, ruleMatches } from './provider-limits';
export type { ProviderLimitName, ProviderLimitRule } from './provider-limits';
