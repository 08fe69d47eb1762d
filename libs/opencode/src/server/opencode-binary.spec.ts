import { accessSync, constants, openSync, readSync, closeSync } from 'node:fs';
import { resolveOpencodeBinary } from './opencode-binary';

describe('resolveOpencodeBinary', () => {
  it('finds the native opencode executable of the opencode-ai dependency', () => {
    const path = resolveOpencodeBinary();
    expect(path).toMatch(/opencode/);
    expect(() => accessSync(path, constants.X_OK)).not.toThrow();
    const fd = openSync(path, 'r');
    const magic = Buffer.alloc(2);
    readSync(fd, magic, 0, 2, 0);
    closeSync(fd);
    expect(magic.toString()).not.toBe('#!');
  });
});
