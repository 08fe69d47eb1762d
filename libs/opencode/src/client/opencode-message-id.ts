import { randomInt } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 14;
const LOW_48_BITS = (1n << 48n) - 1n;

let lastMillis = 0;
let counter = 0;

/**
 * A message id in OpenCode's own shape: `msg_` + 12 hex digits of (ms x 4096 + counter,
 * low 48 bits) + 14 base62 characters. OpenCode orders messages by id, so a caller-chosen
 * id must sort like the ids the server creates around it. Unique within this process
 * (monotonic counter) and, with the random tail, across processes.
 */
export function newOpencodeMessageId(now: number = Date.now()): string {
  const millis = Math.max(now, lastMillis);
  if (millis !== lastMillis) {
    lastMillis = millis;
    counter = 0;
  }
  counter++;
  const ordered = (BigInt(millis) * 4096n + BigInt(counter)) & LOW_48_BITS;
  return `msg_${ordered.toString(16).padStart(12, '0')}${randomBase62(RANDOM_LENGTH)}`;
}

export const OPENCODE_MESSAGE_ID_PATTERN = /^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/;

function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}
