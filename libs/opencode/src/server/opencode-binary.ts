import { accessSync, closeSync, constants, existsSync, openSync, readSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Finds the `opencode` executable installed with the opencode-ai npm dependency.
 * A native binary is preferred over a launcher script: the supervisor must signal the
 * server process itself, not a wrapper that may leave it running.
 */
export function resolveOpencodeBinary(searchFrom: string = process.cwd()): string {
  const candidates = [...nativeCandidates(searchFrom), join(searchFrom, 'node_modules', '.bin', 'opencode')];
  const launcher = packageBin('opencode-ai', searchFrom);
  const found =
    candidates.find((path) => isExecutable(path) && isNativeExecutable(path)) ??
    (launcher && isExecutable(launcher) ? launcher : undefined) ??
    candidates.find(isExecutable);
  if (!found) {
    throw new Error(
      'Cannot find the opencode executable: install the opencode-ai npm package (npm i opencode-ai) ' +
        'or make sure its platform package (opencode-<os>-<arch>) was installed',
    );
  }
  return found;
}

function nativeCandidates(searchFrom: string): string[] {
  const paths: string[] = [];
  const main = packageBin('opencode-ai', searchFrom);
  if (main) paths.push(main);
  const binaryName = process.platform === 'win32' ? 'opencode.exe' : 'opencode';
  for (const name of platformPackageNames()) {
    const dir = packageDir(name, searchFrom);
    if (dir) paths.push(join(dir, 'bin', binaryName));
  }
  return paths;
}

/** The optional platform packages opencode-ai depends on, most likely first. */
function platformPackageNames(): string[] {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const base = `opencode-${os}-${process.arch}`;
  return [base, `${base}-baseline`, `${base}-musl`, `${base}-baseline-musl`];
}

function packageBin(name: string, searchFrom: string): string | undefined {
  const dir = packageDir(name, searchFrom);
  if (!dir) return undefined;
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.opencode;
    return bin ? resolve(dir, bin) : undefined;
  } catch {
    return undefined;
  }
}

function packageDir(name: string, searchFrom: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`, { paths: [searchFrom, __dirname] }));
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    if (!existsSync(path)) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** ELF, Mach-O or PE magic bytes, as opposed to a `#!` script. */
function isNativeExecutable(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const magic = Buffer.alloc(4);
    readSync(fd, magic, 0, 4, 0);
    const hex = magic.toString('hex');
    return hex === '7f454c46' || ['feedface', 'feedfacf', 'cefaedfe', 'cffaedfe', 'cafebabe'].includes(hex) || hex.startsWith('4d5a');
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
