// `npm start` exactly as the README says: from the repository root, with no
// options, so with the default (relative) directory and the default ports.
// Then the two ways a run can die: kill -9 of the run alone (its agents see
// their supervisor gone and shut down), and kill -9 of the run with all its
// agents (each primary's fence keeper stops it when its lease runs out).
// Each start over the directory the last one left prints "ready" only once
// a write through the endpoint has been acknowledged.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { processIdentity } from '../../lib/local/cluster.js';
import type { RunState } from '../../lib/local/run.js';
import { sql } from '../support/pgcluster.js';
import { ROOT, waitFor, writable } from './local-run.js';

const DIR = join(ROOT, '.pgfloat', 'local');
const ENDPOINT_PORT = 5440;

/** `npm start` in the repository root, in a process group of its own, as a terminal would run it. */
class NpmStart {
  output = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<void>;
  readonly child: ChildProcess;

  constructor() {
    this.child = spawn('npm', ['start'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: process.env.CI ?? '' } });
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => void (this.output += s));
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => void (this.output += s));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  async ready(): Promise<void> {
    await waitFor(
      'the "ready:" line of npm start',
      async () => {
        if (/^ready:/m.test(this.output)) return true;
        if (this.exit !== null) throw new Error(`npm start exited (${JSON.stringify(this.exit)}) before it was ready`);
        return undefined;
      },
      { timeoutMs: 240_000, intervalMs: 200, context: () => this.output.slice(-3000) },
    );
  }

  /** kill -9 of the whole process group: npm, the run and every agent (not PostgreSQL, not the fence keepers). */
  killGroup(): void {
    if (this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGKILL');
  }

  /** Ctrl-C: SIGINT to the process group, as a terminal sends it. */
  async interrupt(): Promise<void> {
    if (this.exit === null && this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGINT');
    await this.exited;
  }
}

function state(): RunState {
  return JSON.parse(readFileSync(join(DIR, 'state.json'), 'utf8')) as RunState;
}

/** Processes of the README's run still alive: postmasters, agents, fence keepers, the run itself. */
function leftovers(): string[] {
  const out: string[] = [];
  for (const entry of readdirProc()) {
    const id = processIdentity(entry);
    if (id === null) continue;
    const c = id.cmdline;
    // The README's run takes no --dir; the runs of other tests (which may run beside this one) each name theirs.
    const readmeRun = c.includes('scripts/local.ts') && !c.includes('--dir ');
    if (c.includes(`-D ${DIR}/`) || c.includes(`--config ${DIR}/`) || c.includes(`pgfloat-fence-keeper ${DIR}/`) || readmeRun) out.push(`${id.pid} ${c.slice(0, 160)}`);
  }
  return out;
}

function readdirProc(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

describe('npm start, as the README runs it', { concurrency: false }, () => {
  let run: NpmStart | undefined;
  after(async () => {
    await run?.interrupt();
    for (const line of leftovers()) {
      try {
        process.kill(Number(line.split(' ')[0]), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  });

  test('from the repository root with no options, it brings the cluster up and prints the connect line once a write went through', { timeout: 300_000 }, async () => {
    // Act
    run = new NpmStart();
    await run.ready();

    // Assess
    assert.match(run.output, /connect: {2}\/usr\/lib\/postgresql\/15\/bin\/psql "host=127\.0\.0\.1 port=5440 user=postgres dbname=postgres"/);
    assert.ok(existsSync(join(DIR, 'state.json')), `the run keeps its state under ${DIR}`);
    assert.equal(state().endpointPort, ENDPOINT_PORT);
    const rows = await sql<{ r: boolean }>(ENDPOINT_PORT, 'SELECT pg_is_in_recovery() AS r');
    assert.equal(rows[0]?.r, false, 'the endpoint reaches the primary');
  });

  test('kill -9 of the run alone: its agents shut down and leave no PostgreSQL writable', { timeout: 300_000 }, async () => {
    // Prepare
    assert.ok(run !== undefined);
    const nodes = state().nodes;
    assert.ok((await writable(nodes)).length === 1, 'one primary before the kill');
    const runPid = state().runPid;
    assert.ok(runPid !== undefined && processIdentity(runPid)?.cmdline.includes('scripts/local.ts'), `the run's pid ${runPid} is the run`);

    // Act
    process.kill(runPid, 'SIGKILL');

    // Assess
    await waitFor(
      'no node writable and no agent left',
      async () => ((await writable(nodes)).length === 0 && leftovers().every((l) => !l.includes('--config')) ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500, context: () => leftovers().join('\n') },
    );
  });

  test('npm start again over the directory a killed run left: ready only once a write went through the endpoint', { timeout: 300_000 }, async () => {
    // Prepare: the group of the killed run (npm, its shell) is gone too
    run?.killGroup();
    await run?.exited;

    // Act
    run = new NpmStart();
    await run.ready();

    // Assess: at "ready" the endpoint takes a write at the first try
    await sql(ENDPOINT_PORT, 'CREATE TEMP TABLE after_restart (x int)');
  });

  test('kill -9 of the run with all its agents: the fence keeper stops the primary once its lease runs out', { timeout: 300_000 }, async () => {
    // Prepare
    assert.ok(run !== undefined);
    const nodes = state().nodes;
    const primaries = await writable(nodes);
    assert.equal(primaries.length, 1, 'one primary before the kill');

    // Act
    run.killGroup();
    await run.exited;

    // Assess: the primary stops taking writes with no agent left to stop it
    await waitFor('every agent gone', async () => (leftovers().every((l) => !l.includes('--config')) ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, context: () => leftovers().join('\n') });
    await waitFor('no node writable', async () => ((await writable(nodes)).length === 0 ? true : undefined), { timeoutMs: 120_000, intervalMs: 500, context: () => leftovers().join('\n') });
  });

  test('Ctrl-C of a run started over that directory stops everything, fence keepers included', { timeout: 300_000 }, async () => {
    // Prepare
    run = new NpmStart();
    await run.ready();

    // Act
    await run.interrupt();

    // Assess
    // npm itself ends by the SIGINT the terminal sent it; the run under it stops cleanly.
    assert.ok(run.exit?.code === 0 || run.exit?.signal === 'SIGINT', `${JSON.stringify(run.exit)}\n${run.output.slice(-2000)}`);
    assert.match(run.output, /^stopped; nothing left running$/m);
    const left = await waitFor('no process of the run left', async () => (leftovers().length === 0 ? [] : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      context: () => leftovers().join('\n'),
    });
    assert.deepEqual(left, []);
  });
});
