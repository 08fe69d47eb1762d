import { ApiClient, ApiError } from './api-client';
import { helpText, parseArgs, ParseEnv, UsageError } from './args';
import { CliIo, COMMAND_HANDLERS, EXIT } from './commands';
import { makeStyle } from './format';

const CLI_VERSION = '0.1.0';

export interface CliEnv extends ParseEnv {
  NO_COLOR?: string;
}

function detailFiles(err: ApiError): string[] {
  const files = (err.details as { files?: unknown } | undefined)?.files;
  return Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string') : [];
}

/**
 * Runs one command line and returns its exit code; never throws. Errors go to stderr as
 * `CODE: message` (then the files the API's `details.files` names, one per line): the API's code, USAGE for a bad command line, CONNECTION_FAILED when the API
 * cannot be reached.
 */
export async function runCli(argv: readonly string[], env: CliEnv, io: CliIo, isTty: boolean): Promise<number> {
  let commandName: string | undefined;
  try {
    const parsed = parseArgs(argv, env);
    if (parsed.kind === 'version') {
      io.stdout(CLI_VERSION);
      return EXIT.OK;
    }
    if (parsed.kind === 'help') {
      io.stdout(helpText(parsed.command));
      return EXIT.OK;
    }
    commandName = parsed.command;
    const style = makeStyle(isTty && !parsed.global.json && !env.NO_COLOR);
    const api = new ApiClient(parsed.global);
    return await COMMAND_HANDLERS[parsed.command]({ api, global: parsed.global, style, io, positionals: parsed.positionals, options: parsed.options });
  } catch (err) {
    if (err instanceof UsageError) {
      const topic = err.command ?? commandName;
      io.stderr(`USAGE: ${err.message}`);
      io.stderr(`see: orchestrator help${topic ? ` ${topic}` : ''}`);
      return EXIT.USAGE;
    }
    if (err instanceof ApiError) {
      io.stderr(`${err.code}: ${err.message}`);
      // The files a refusal names (MERGE_CONFLICT, WORKSPACE_DIRTY: details.files), one per line.
      for (const file of detailFiles(err)) io.stderr(`  ${file}`);
      return err.exitCode;
    }
    io.stderr(`ERROR: ${(err as Error)?.message ?? String(err)}`);
    return EXIT.FAILED;
  }
}
