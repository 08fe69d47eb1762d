import { AppConfig } from './app-config';
import { ConfigValidationError } from './env.schema';

/** For entry points: the validated configuration, or a message naming each bad variable and exit 1. */
export function loadConfigOrExit(): AppConfig {
  try {
    return AppConfig.fromEnvironment();
  } catch (err) {
    if (err instanceof ConfigValidationError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}
