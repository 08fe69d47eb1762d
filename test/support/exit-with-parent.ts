/**
 * Preloaded (`node -r`) into the processes tests start (worker-process.ts): the process exits
 * when its stdin closes, that is when the test process that started it is gone, however it
 * went. So a killed test run leaves no worker behind.
 */
process.stdin.on('end', () => process.exit(1));
process.stdin.on('error', () => process.exit(1));
process.stdin.resume();
