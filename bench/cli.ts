// npm run bench:cli [-- --runs N]
// Start-up time of the pgfloat CLI, median and p95 over N runs each, from
// source (node --import tsx lib/cli/bin.ts, how it ran before it was
// bundled) and as operators run it (node bin/pgfloat.mjs: the staleness
// check, then the bundle), plus the bundle alone (node .build/cli/.../index.mjs,
// to show what the check costs). For --help and a usage error the start-up
// is the whole run; for `list` it is the time from spawning node until its
// one DynamoDB Query reaches DynamoDB Local (through a recording proxy), and
// the whole run is shown beside it. Run it on an idle machine: the load
// average is printed first.
import { spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createDynamoDbClient } from '../lib/dcs/client.js';
import { DynamoDbStore } from '../lib/dcs/dynamodb-store.js';
import { ensureTable } from '../lib/dcs/table.js';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { label, newCluster, seedCluster } from '../test/cli/harness.js';
import { quantile } from './stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const N = Number(values.runs);
if (!Number.isInteger(N) || N < 3) throw new Error('--runs: a whole number of at least 3');
const WARMUP = 2;

const root = join(import.meta.dirname, '..');
const bundler = (await import(pathToFileURL(join(root, 'scripts', 'bundle.mjs')).href)) as { cliBundle(): Promise<string> };
const bundle = await bundler.cliBundle();

/** Forwards every request to DynamoDB Local and notes when the first one of a run arrives. */
function recordingProxy(target: URL): { server: Server; firstRequestAt: () => number | null; reset: () => void } {
  let first: number | null = null;
  const server = createServer((req, res) => {
    first ??= performance.now();
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  });
  return {
    server,
    firstRequestAt: () => first,
    reset: () => {
      first = null;
    },
  };
}

interface Sample {
  /** Spawn to the first DynamoDB request, or to the exit when there is none. */
  readonly startup: number;
  readonly total: number;
}

interface Expect {
  readonly code: number;
  /** What the command prints (stdout, or stderr for a usage error): a run that does not is no sample. */
  readonly output: RegExp;
}

function runOnce(args: readonly string[], env: NodeJS.ProcessEnv, firstRequestAt: () => number | null, expect: Expect): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => void (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => void (output += s));
    child.once('error', reject);
    child.once('close', (code) => {
      const ended = performance.now();
      if (code !== expect.code || !expect.output.test(output)) {
        reject(new Error(`node ${args.join(' ')} exited ${code}, expected ${expect.code} and ${expect.output}: ${output}`));
        return;
      }
      const first = firstRequestAt();
      resolve({ startup: (first ?? ended) - started, total: ended - started });
    });
  });
}


const ms = (x: number): string => `${x.toFixed(0).padStart(5)} ms`;

const engine = await startDynamoDbLocal();
const proxy = recordingProxy(new URL(engine.endpoint));
await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
const proxyEndpoint = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
try {
  const client = createDynamoDbClient({ endpoint: engine.endpoint });
  const tableName = 'pgfloat-bench-cli';
  await ensureTable(client, tableName);
  const cluster = newCluster();
  await seedCluster(new DynamoDbStore({ client, tableName }), cluster);
  client.destroy();

  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PGFLOAT_DYNAMODB_ENDPOINT: proxyEndpoint, PGFLOAT_TABLE: tableName };
  const ways: { name: string; argv: readonly string[] }[] = [
    { name: 'from source (tsx)', argv: ['--import', 'tsx', 'lib/cli/bin.ts'] },
    { name: 'bin/pgfloat.mjs', argv: ['bin/pgfloat.mjs'] },
    { name: 'bundle alone', argv: [bundle] },
  ];
  const commands: { name: string; argv: readonly string[]; expect: Expect; query: boolean }[] = [
    { name: '--help', argv: ['--help'], expect: { code: 0, output: /^Usage: pgfloat / }, query: false },
    { name: 'usage error', argv: ['list', label(cluster), '--bogus'], expect: { code: 2, output: /^pgfloat: unknown option --bogus/ }, query: false },
    { name: 'list', argv: ['list', label(cluster)], expect: { code: 0, output: new RegExp(`^\\+ Cluster: ${cluster.scope} `) }, query: true },
  ];

  const [l1, l5] = loadavg();
  process.stdout.write(`pgfloat CLI start-up, ${N} runs each after ${WARMUP} warm-up runs; node ${process.version}, ${cpus().length} CPUs, load average ${l1?.toFixed(2)} (1 min) ${l5?.toFixed(2)} (5 min)\n`);
  process.stdout.write(`list: start-up = spawn to its DynamoDB Query arriving at DynamoDB Local; total = spawn to exit\n\n`);
  process.stdout.write(`${'command'.padEnd(12)} ${'how'.padEnd(18)} ${'start-up median'.padStart(15)} ${'p95'.padStart(8)}   ${'total median'.padStart(12)} ${'p95'.padStart(8)}\n`);
  for (const c of commands) {
    for (const w of ways) {
      const samples: Sample[] = [];
      for (let i = 0; i < WARMUP + N; i += 1) {
        proxy.reset();
        const s = await runOnce([...w.argv, ...c.argv], env, proxy.firstRequestAt, c.expect);
        if (c.query && proxy.firstRequestAt() === null) throw new Error(`${w.name} ${c.name}: no DynamoDB request arrived`);
        if (i >= WARMUP) samples.push(s);
      }
      const startup = samples.map((s) => s.startup).sort((a, b) => a - b);
      const total = samples.map((s) => s.total).sort((a, b) => a - b);
      const totals = c.query ? `   ${ms(quantile(total, 0.5)).padStart(12)} ${ms(quantile(total, 0.95)).padStart(8)}` : '';
      process.stdout.write(`${c.name.padEnd(12)} ${w.name.padEnd(18)} ${ms(quantile(startup, 0.5)).padStart(15)} ${ms(quantile(startup, 0.95)).padStart(8)}${totals}\n`);
    }
  }
} finally {
  proxy.server.close();
  await engine.stop();
}
