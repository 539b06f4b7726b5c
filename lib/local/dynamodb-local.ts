// Runs the real DynamoDB Local engine (the AWS jar) on a loopback port.
// Invariant: the engine never outlives its owner. Java runs under a small
// bash guard in its own process group; the guard kills Java when the owner's
// pipe closes, which happens even when the owner is killed with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const DEFAULT_DYNAMODB_LOCAL_DIR = join(root, '.cache', 'dynamodb-local', '2.9.30');

/** Credentials DynamoDB Local accepts; tables are separate per access key and region. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'pgfloatlocal', secretAccessKey: 'pgfloatlocal' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly dir?: string;
  readonly port?: number;
  readonly startTimeoutMs?: number;
  /** Keep the tables in this directory (shared by all credentials) instead of in memory. */
  readonly dbPath?: string;
}

/**
 * A loopback port free now, for a server that will listen on it a moment
 * later. Chosen at random below the kernel's ephemeral range: a port the
 * kernel hands out (port 0) is also what it picks as the source port of new
 * outgoing connections, so under load another process's client could take it
 * before the server binds.
 */
export async function freeLoopbackPort(): Promise<number> {
  const low = 20_000;
  const high = ephemeralLow() - 1;
  for (let i = 0; i < 50 && high > low; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (!handedOut.has(port) && (await bindable(port))) return handOut(port);
  }
  return handOut(await listenOn(0));
}

/**
 * Ports this process has handed out: a port picked for a server that does
 * not listen yet is still free, so without this two servers of one cluster
 * could be given the same one.
 */
const handedOut = new Set<number>();

function handOut(port: number): number {
  handedOut.add(port);
  return port;
}

function ephemeralLow(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 1024 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

async function bindable(port: number): Promise<boolean> {
  return listenOn(port).then(
    () => true,
    () => false,
  );
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

const GUARD = [
  'exec 3<&0',
  'java "$@" </dev/null &',
  'child=$!',
  '( read -r _ <&3; kill -KILL "$child" 2>/dev/null ) &',
  'wait "$child"',
].join('\n');

export async function startDynamoDbLocal(options: StartOptions = {}): Promise<DynamoDbLocal> {
  const dir = options.dir ?? process.env.PGFLOAT_DYNAMODB_LOCAL_DIR ?? DEFAULT_DYNAMODB_LOCAL_DIR;
  const jar = join(dir, 'DynamoDBLocal.jar');
  if (!existsSync(jar)) {
    throw new Error(`DynamoDB Local is not installed at ${jar}: run "node scripts/setup.mjs" first`);
  }
  const port = options.port ?? (await freeLoopbackPort());
  const scratch = mkdtempSync(join(tmpdir(), 'pgfloat-ddb-'));
  const javaArgs = [
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-Xmx512m',
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    jar,
    ...(options.dbPath !== undefined ? ['-dbPath', options.dbPath, '-sharedDb'] : ['-inMemory']),
    '-port',
    String(port),
    '-disableTelemetry',
  ];
  const child = spawn('bash', ['-c', GUARD, 'dynamodb-local', ...javaArgs], {
    cwd: scratch,
    detached: true,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killGroup);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killGroup);
    killGroup();
    child.stdin?.destroy();
    await exited;
    rmSync(scratch, { recursive: true, force: true });
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, child, exited, options.startTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw new Error(`DynamoDB Local did not start on port ${port}: ${(err as Error).message}\n${stderr}`);
  }
  return { endpoint, port, pid: child.pid ?? -1, stop };
}

async function waitUntilReady(
  endpoint: string,
  child: ChildProcess,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (dead) throw new Error(`the engine exited (code ${child.exitCode})`);
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(1000) });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`no answer within ${timeoutMs} ms`);
  } finally {
    client.destroy();
  }
}
