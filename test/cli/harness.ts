// Runs the CLI in-process against a real DynamoDB Local table, with output
// captured, a fixed clock, and clusters seeded the way agents and the
// arbiter would leave them; or as operators run it, the bin/pgfloat.mjs
// executable (its bundle) in a process of its own (runBin).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import type { ClusterId } from '../../lib/dcs/keys.js';
import { DEFAULT_CONFIG, type MemberStatus } from '../../lib/dcs/items.js';
import type { Store } from '../../lib/dcs/store.js';
import { main, type CliDeps } from '../../lib/cli/main.js';
import type { Input } from '../../lib/cli/context.js';
import { freshTable, type TestTable } from '../support/dynamodb.js';
import { grant, member } from '../dcs/contract.js';

export const MB = 1024 * 1024;
/** The CLI's clock in tests: one second after the seeded heartbeats. */
export const NOW = 1_700_000_001_000;
export const HEARTBEAT = 1_700_000_000_000;
export const SYSTEM_ID = '7312345678901234567';
export const LEADER_LSN = 100 * MB;

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions extends CliDeps {
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: Input;
  /** Receives stdout as it is written (for tests that react to progress lines). */
  readonly onStdout?: (text: string) => void;
}

export async function run(argv: readonly string[], o: RunOptions = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const { env, stdin, onStdout, ...deps } = o;
  const code = await main(
    argv,
    {
      stdout: {
        write: (s: string) => {
          stdout += s;
          onStdout?.(stdout);
          return true;
        },
      },
      stderr: { write: (s: string) => (stderr += s) },
      ...(stdin === undefined ? {} : { stdin }),
      env: env ?? {},
    },
    { now: () => NOW, operator: 'alice@ops', ...deps },
  );
  return { code, stdout, stderr };
}

/** The executable that the README, npm run pgfloat and operators call. */
export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pgfloat.mjs');

export interface BinOptions {
  /** The process environment, besides PATH and HOME (no PGFLOAT_* or AWS_* of the test run leak in). */
  readonly env?: Record<string, string>;
  /** Written to the CLI's stdin, which is then closed. */
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Node options before the script, e.g. --import of a loader hook. */
  readonly nodeArgs?: readonly string[];
}

/** Runs `node bin/pgfloat.mjs ...argv` and resolves with its exit code and output. */
export function runBin(argv: readonly string[], o: BinOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...o.env };
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), BIN, ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => void (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => void (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === null) reject(new Error(`pgfloat ${argv.join(' ')} ended by ${signal}: ${stderr}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.end(o.input ?? '');
  });
}

export interface Harness {
  readonly table: TestTable;
  readonly store: DynamoDbStore;
}

export async function openHarness(): Promise<Harness> {
  const table = await freshTable();
  return { table, store: new DynamoDbStore({ client: table.client, tableName: table.tableName }) };
}

let counter = 0;
export function newCluster(): ClusterId {
  counter += 1;
  return { namespace: 'pgfloat', scope: `orders${counter}` };
}

export const label = (c: ClusterId): string => `${c.namespace}/${c.scope}`;

export interface Seed {
  /** Replicas besides leader `a`; default b (caught up) and c (3 MB behind). */
  readonly replicas?: readonly Partial<MemberStatus>[];
  readonly paused?: boolean;
}

/**
 * A cluster led by `a` (term 1, active, lastLsn 100 MB) with replicas `b`
 * (0 MB behind) and `c` (3 MB behind, over the default maximum lag of 1 MB).
 */
export async function seedCluster(store: Store, c: ClusterId, seed: Seed = {}): Promise<void> {
  await store.initialize(c, { systemId: SYSTEM_ID, initializedBy: 'a' });
  if (seed.paused !== undefined) {
    await store.putConfig(c, { ...DEFAULT_CONFIG, paused: seed.paused }, null);
  }
  const at = (name: string, port: number, over: Partial<MemberStatus>): MemberStatus =>
    member(name, { systemId: SYSTEM_ID, connUrl: `postgres://10.0.0.${port}:5432/postgres`, ...over });
  await store.heartbeat(c, at('a', 1, { role: 'primary', lsn: LEADER_LSN, replayLsn: null }), null);
  const replicas = seed.replicas ?? [
    { name: 'b', lsn: LEADER_LSN },
    { name: 'c', lsn: LEADER_LSN - 3 * MB },
  ];
  let port = 2;
  for (const r of replicas) {
    const name = r.name ?? `r${port}`;
    await store.heartbeat(c, at(name, port, { replayLsn: r.lsn ?? null, ...r, name }), null);
    port += 1;
  }
  const granted = await store.grantLeader(c, grant('a', null, { lastLsn: LEADER_LSN, kind: 'bootstrap', reason: 'bootstrap: a initialized the cluster' }));
  if (!granted.ok) throw new Error('seed: grant failed');
  const confirmed = await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: LEADER_LSN, timeline: 1 });
  if (!confirmed.ok) throw new Error('seed: confirm failed');
}

/** A store whose next putConfig / setFailover / clearFailover / removeMember is preceded by `before` (another writer winning the race). */
export function racingStore(store: Store, before: () => Promise<void>): Store {
  let armed = true;
  const race = async (): Promise<void> => {
    if (armed) {
      armed = false;
      await before();
    }
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'putConfig' || prop === 'setFailover' || prop === 'clearFailover' || prop === 'removeMember') {
        return async (...args: unknown[]) => {
          await race();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
