// Runs what `npm run package` runs, offline and without an AWS account:
// scripts/bundle.mjs, then `osls package` into a directory of the caller's.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Template } from './cfn.js';

const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, '..', '..');

/** The environment of a machine with no AWS account: no credentials, no profile, no instance metadata. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('SLS_')) env[k] = v;
  return {
    ...env,
    AWS_CONFIG_FILE: join(ROOT, '.build', 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(ROOT, '.build', 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
}

export async function bundleFunctions(): Promise<void> {
  await run(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: ROOT, env: offlineEnv(), timeout: 120_000 });
}

export interface Packaged {
  readonly template: Template;
  /** File names inside the function package (.zip). */
  readonly zipEntries: readonly string[];
}

/** `osls package` with `--param key=value` for each entry; the bundle must exist. */
export async function packageService(outDir: string, params: Record<string, string> = {}): Promise<Packaged> {
  const args = [
    join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js'),
    'package',
    '--stage',
    'test',
    '--region',
    'us-east-1',
    '--package',
    outDir,
    ...Object.entries(params).map(([k, v]) => `--param=${k}=${v}`),
  ];
  try {
    await run(process.execPath, args, { cwd: ROOT, env: offlineEnv(), timeout: 150_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`osls package failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err });
  }
  const template = JSON.parse(await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  const zipEntries = zipNames(await readFile(join(outDir, 'pgfloat.zip')));
  return { template, zipEntries };
}

/** The file names of a zip archive, from its central directory. */
export function zipNames(zip: Buffer): string[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip archive: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`zip central directory entry ${i} is malformed`);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}
