import { stopSharedOpencodeServer } from './opencode-test-server';

/** Stops what global-setup.ts started (jest calls it once per project; later calls find nothing to stop). */
export default async function globalTeardown(): Promise<void> {
  await stopSharedOpencodeServer();
}
