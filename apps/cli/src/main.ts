#!/usr/bin/env node
/**
 * `orchestrator` (bin/orchestrator.js): the command-line client of the orchestrator's REST API
 * and live streams. See docs/cli.md or `orchestrator help`.
 */
import { runCli } from './cli';
import { CliIo } from './commands';

const io: CliIo = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  onInterrupt: (handler) => {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  cwd: process.cwd(),
  // Both a terminal: a person is there to answer approval questions (run, follow).
  terminal: process.stdin.isTTY && process.stdout.isTTY ? { input: process.stdin, output: process.stdout } : undefined,
};

// A closed pipe (e.g. `orchestrator sessions | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

runCli(process.argv.slice(2), process.env, io, Boolean(process.stdout.isTTY)).then((code) => {
  // Open sockets (a stream, keep-alive) must not hold the process; stdout/stderr to pipes and files are synchronous here.
  process.exit(code);
});
