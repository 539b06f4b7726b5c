// The fence keeper: a tiny process, one per data directory, that holds the
// lease deadline outside the agent's event loop. The agent arms it with the
// deadline of each successful renew; once the deadline passes, the keeper
// stops any postmaster of that data directory that could take writes (no
// standby.signal) with an immediate shutdown, and goes on doing so until it
// is armed again or disarmed. A stalled, frozen or dead agent therefore
// cannot leave a writable primary past its lease.
//
// Invariants:
// - Deadlines are absolute CLOCK_MONOTONIC nanoseconds (process.hrtime), the
//   one clock agent and keeper share; a delay in the socket only makes the
//   keeper see an arm later, never moves its deadline later.
// - The keeper outlives its agent: it is detached, and keeps its last
//   deadline when the agent disconnects. A restarted agent attaches to the
//   same keeper through its socket. With no agent attached, it exits once it
//   is disarmed, or once it has fenced and no postmaster runs.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { FenceKeeperError } from './errors.js';

/** The keeper's first argument: how `ps` tells a keeper, `pgfloat-fence-keeper <data dir> <socket>`. */
export const FENCE_KEEPER_NAME = 'pgfloat-fence-keeper';

/** The keeper's program, run by `node -e` so that it needs no file of its own on a node. */
export const FENCE_KEEPER_SOURCE = String.raw`
'use strict';
const fs = require('fs');
const net = require('net');
const [, dataDir, socketPath] = process.argv.slice(1);
let deadline = null;
let fired = false;
let clients = 0;
let attached = false;
const started = process.hrtime.bigint();
const killed = new Set();
const log = (m) => { try { fs.writeSync(2, new Date().toISOString() + ' FENCE ' + m + '\n'); } catch {} };
function postmaster() {
  let pid;
  try { pid = Number(fs.readFileSync(dataDir + '/postmaster.pid', 'utf8').split('\n')[0]); } catch { return null; }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let cmd;
  try { cmd = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\0'); } catch { return null; }
  const d = cmd.indexOf('-D');
  return d >= 0 && cmd[d + 1] === dataDir ? pid : null;
}
function writable() { return !fs.existsSync(dataDir + '/standby.signal') && !fs.existsSync(dataDir + '/recovery.signal'); }
function tick() {
  const now = process.hrtime.bigint();
  if (deadline !== null && now >= deadline) {
    const pid = postmaster();
    if (pid !== null && writable()) {
      if (!killed.has(pid)) log('lease deadline passed: immediate shutdown of postmaster ' + pid + ' (' + dataDir + ')');
      try { process.kill(pid, killed.has(pid) ? 'SIGKILL' : 'SIGQUIT'); } catch {}
      killed.add(pid);
    }
    fired = true;
  }
  const orphan = clients === 0 && (attached || now - started > 10000000000n);
  if (orphan && (deadline === null || (fired && postmaster() === null))) {
    try { server.close(); fs.rmSync(socketPath, { force: true }); } catch {}
    process.exit(0);
  }
  const left = deadline === null || fired ? 50n : (deadline - now) / 1000000n;
  setTimeout(tick, Number(left < 1n ? 1n : left > 50n ? 50n : left));
}
const server = net.createServer((s) => {
  clients++;
  attached = true;
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (chunk) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (/^arm [0-9]+$/.test(line)) { deadline = BigInt(line.slice(4)); fired = false; killed.clear(); }
      else if (line === 'disarm') { deadline = null; fired = false; killed.clear(); }
      else if (line === 'status') { s.write('ok status ' + (deadline === null ? 'disarmed' : fired ? 'fired' : 'armed') + '\n'); continue; }
      else { s.write('error ' + line + '\n'); continue; }
      s.write('ok ' + line + '\n');
    }
  });
  s.on('error', () => {});
  s.on('close', () => { clients--; });
});
process.on('SIGTERM', () => { if (deadline === null) process.exit(0); });
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
try { fs.rmSync(socketPath, { force: true }); } catch {}
server.listen(socketPath, () => { fs.writeSync(1, 'ready\n'); tick(); });
`;

export interface FenceKeeperOptions {
  readonly dataDir: string;
  /** A unix socket path (at most 107 bytes), one per data directory. */
  readonly socketPath: string;
  /** Monotonic ms, the agent's clock (performance.now()). */
  readonly monotonic?: () => number;
  readonly log?: (line: string) => void;
}

/** What the agent arms at each lease and disarms once it holds none and its server takes no writes. */
export interface Fence {
  readonly isArmed: boolean;
  attach(): Promise<void>;
  /** Resolves once the deadline (the agent's monotonic ms) is held; throws when it cannot be. */
  arm(deadlineMono: number): Promise<void>;
  disarm(): Promise<void>;
  close(): void;
}

/** The agent's side: attaches to the data directory's keeper, starting one if none answers. */
export class FenceKeeper implements Fence {
  private socket: Socket | null = null;
  private replies: ((line: string | null) => void)[] = [];
  private buffered = '';
  private armed = false;
  private readonly mono: () => number;

  constructor(private readonly o: FenceKeeperOptions) {
    this.mono = o.monotonic ?? (() => performance.now());
  }

  /** True from an acknowledged arm until an acknowledged disarm. */
  get isArmed(): boolean {
    return this.armed;
  }

  /** Attaches now (starting the keeper if none answers), so that no promotion waits for its start. */
  async attach(): Promise<void> {
    await this.connection();
  }

  /** Arms the keeper: past deadlineMono (the agent's monotonic ms) PostgreSQL is stopped unless re-armed. Resolves once the keeper holds it. */
  async arm(deadlineMono: number): Promise<void> {
    const ns = process.hrtime.bigint() + BigInt(Math.floor((deadlineMono - this.mono()) * 1e6));
    await this.send(`arm ${ns}`);
    this.armed = true;
  }

  /** Only once PostgreSQL is seen not writable and no lease is held. */
  async disarm(): Promise<void> {
    await this.send('disarm');
    this.armed = false;
  }

  /** Detaches; the keeper keeps its deadline (and so still fences a primary this agent left behind). */
  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  /** `fired` once the keeper has seen its deadline pass (and fenced whatever could take writes). */
  async status(): Promise<'armed' | 'disarmed' | 'fired'> {
    const answer = await this.request('status');
    const state = /^ok status (armed|disarmed|fired)$/.exec(answer ?? '')?.[1];
    if (state === undefined) throw new FenceKeeperError(`the fence keeper of ${this.o.dataDir} answered "${answer ?? 'nothing'}" to status`);
    return state as 'armed' | 'disarmed' | 'fired';
  }

  private async request(line: string): Promise<string | null> {
    const s = await this.connection();
    const reply = new Promise<string | null>((resolve) => this.replies.push(resolve));
    s.write(`${line}\n`);
    return Promise.race([reply, delay(5000, null)]);
  }

  private async send(line: string): Promise<void> {
    const answer = await this.request(line);
    if (answer !== `ok ${line}`) {
      this.close();
      throw new FenceKeeperError(`the fence keeper of ${this.o.dataDir} did not acknowledge "${line}" (${answer ?? 'no answer'})`);
    }
  }

  private async connection(): Promise<Socket> {
    if (this.socket !== null && !this.socket.destroyed) return this.socket;
    let s = await tryConnect(this.o.socketPath);
    if (s === null) {
      await this.spawnKeeper();
      s = await tryConnect(this.o.socketPath);
    }
    if (s === null) throw new FenceKeeperError(`the fence keeper of ${this.o.dataDir} does not answer on ${this.o.socketPath}`);
    this.buffered = '';
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let i = this.buffered.indexOf('\n'); i >= 0; i = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        this.replies.shift()?.(line);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.socket === s) this.socket = null;
      for (const r of this.replies.splice(0)) r(null);
    });
    s.unref();
    this.socket = s;
    return s;
  }

  private async spawnKeeper(): Promise<void> {
    rmSync(this.o.socketPath, { force: true });
    const child = spawn(process.execPath, ['--max-old-space-size=16', '-e', FENCE_KEEPER_SOURCE, FENCE_KEEPER_NAME, this.o.dataDir, this.o.socketPath], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ready = await new Promise<boolean>((resolve) => {
      child.once('error', () => resolve(false));
      child.once('exit', () => resolve(false));
      child.stdout?.once('data', () => resolve(true));
    });
    child.stdout?.destroy();
    child.unref();
    if (!ready) throw new FenceKeeperError(`the fence keeper of ${this.o.dataDir} did not start`);
    this.o.log?.(`fence keeper started (pid ${child.pid}) for ${this.o.dataDir}`);
  }
}

async function tryConnect(path: string): Promise<Socket | null> {
  for (let i = 0; i < 3; i++) {
    const s = await new Promise<Socket | null>((resolve) => {
      const c = connect(path);
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(null));
    });
    if (s !== null) return s;
    await delay(20);
  }
  return null;
}
