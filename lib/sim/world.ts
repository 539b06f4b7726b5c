// One seeded schedule: three nodes (agent running the real agentStep, a
// PostgreSQL model, a fence keeper model, a client writing to it), the real
// arbiter loop (runLoop -> tickCluster -> decide) invoked on a schedule, all
// over the in-memory store behind a fault-injecting proxy, in virtual time
// with a drifting clock per process.
import { DEFAULT_CONFIG, clusterConfigSchema, type ClusterConfig } from '../dcs/items.js';
import { clusterPk, memberSk, SK, type ClusterId } from '../dcs/keys.js';
import { StoreUnavailableError } from '../dcs/errors.js';
import { MemoryStore } from '../dcs/memory-store.js';
import type { ClusterSnapshot, Store } from '../dcs/store.js';
import { runLoop } from '../arbiter/loop.js';
import { planInvocation, type ArbiterEvent } from '../arbiter/events.js';
import type { MoverCache } from '../arbiter/movers.js';
import type { EndpointMover } from '../endpoint/mover.js';
import { storeOutcome } from '../agent/effects.js';
import { loopRead } from '../agent/loop-read.js';
import type { ReadKind } from '../ha/head-read.js';
import { agentStep, holdsPromotionBack, initialAgentState, type AgentParams, type AgentState, type CallEffect, type Effect, type Outcome, type PgReading } from '../ha/agent-step.js';
import { isCall } from '../ha/agent-effects.js';
import type { LocalState } from '../ha/agent.js';
import { FAULT_CLASSES, faultSchedule, type Fault, type FaultClass, type Profile } from './faults.js';
import type { Invariant, Violation } from './invariants.js';
import { PgModel, type WalRecord } from './pg-model.js';
import { Rng } from './prng.js';
import { Proc, Scheduler } from './scheduler.js';

/** Test-only switches that remove a safeguard from the model, to show that the simulation notices (no-arbiter-wake: the agents' wake, to measure it). */
export const SWITCHES = ['keeper-disabled', 'drift-beyond-bound', 'no-arbiter-wake', 'unfenced-ignored'] as const;
export type Switch = (typeof SWITCHES)[number];

function withoutUnfenced(snap: ClusterSnapshot): ClusterSnapshot {
  if (snap.leader?.unfenced !== true) return snap;
  const { unfenced: _dropped, ...leader } = snap.leader;
  return { ...snap, leader };
}

export interface SimOptions {
  readonly seed: number;
  readonly classes?: readonly FaultClass[];
  readonly switches?: readonly Switch[];
  readonly trace?: boolean;
  readonly mode?: 'async' | 'sync' | 'strict';
  readonly profile?: Profile;
  /** failsafe_mode on; by default on in odd seeds. */
  readonly failsafe?: boolean;
}

export interface SimResult {
  readonly seed: number;
  readonly mode: 'async' | 'sync' | 'strict';
  readonly failsafe: boolean;
  readonly faults: readonly Fault[];
  readonly violations: readonly Violation[];
  readonly trace: readonly string[];
  readonly events: number;
  /** Per fault: ms from its start to the first write acknowledged under a newer term (null: no new term). */
  readonly failoverMs: readonly (number | null)[];
  /** Longest gap between acknowledged writes that overlaps the fault window, ms. */
  readonly unavailableMs: number;
}

/** Timing of the modelled cluster. */
export const TIMING = {
  ttlMs: 10_000,
  safetyMarginMs: 2000,
  /** Fence keeper reaction: from its deadline to the postmaster stopped. */
  keeperReactionMs: 50,
  /** Clock drift rate bound of every process. */
  rho: 0.001,
  /** Offset bound between arbiter invocations' clocks (Time Sync). */
  arbiterSkewMs: 5,
  schedulePeriodMs: 60_000,
  /** EventBridge delivers a scheduled event within its minute: up to this late. */
  scheduleJitterMs: 20_000,
  /** The function's timeout (serverless.yml): what Lambda grants an invocation. */
  functionTimeoutMs: 130_000,
  tickMs: 1000,
  loopLeaseMs: 3000,
} as const;

/** Once faults stop, one healthy primary within this bound: next invocation (a schedule, delivered late) + loop lease + 3 ttl + settling. */
export const LIVENESS_BOUND_MS = TIMING.schedulePeriodMs + TIMING.scheduleJitterMs + TIMING.loopLeaseMs + 3 * TIMING.ttlMs + 10_000;

/**
 * The promotion protocol's timing inequality (docs/safety.md): the old
 * primary is stopped, on real time, before the arbiter can grant again.
 * (ttl - m) / (1 - rho) + k + 2 * skew < ttl / (1 + rho)
 */
export function timingHolds(t: { ttlMs: number; safetyMarginMs: number; keeperReactionMs: number; rho: number; arbiterSkewMs: number }): boolean {
  return (t.ttlMs - t.safetyMarginMs) / (1 - t.rho) + t.keeperReactionMs + 2 * t.arbiterSkewMs < t.ttlMs / (1 + t.rho);
}

const CLUSTER: ClusterId = { namespace: 'sim', scope: 'c1' };
const NAMES = ['a', 'b', 'c'];
const WRITE_BYTES = 100;

interface Node {
  readonly i: number;
  readonly name: string;
  readonly pg: PgModel;
  /** Node monotonic clock: base + virtual * (1 + drift). */
  readonly drift: number;
  readonly base: number;
  agent: Proc;
  /** The agent process whose detached heartbeat is in flight. */
  beating: Proc | null;
  state: AgentState;
  keeper: { deadline: number | null; gen: number };
  fenceToken: number;
  /** Writable since (virtual ms), null when not writable; and whether it acknowledged a write in that period. */
  writableSince: number | null;
  ackedInPeriod: boolean;
  /** The last lastLsn this node reported in a successful leader write. */
  reportedLsn: number;
  clientCutUntil: number;
  storeCutUntil: number;
  /** Virtual ms its handover's checkpoint began, while it hands over; else null. */
  handoverSince: number | null;
  /** Its own clock at the send of its latest leader write that the store applied. */
  leaseSentAt: number;
  /** Its WAL receiver gets nothing until (virtual ms): a slow disk or network on a standby. */
  lagUntil: number;
  /** Its agent is down until (virtual ms), and how many restarts were scheduled. */
  downUntil: number;
  restarts: number;
  /** Its agent API cannot reach, nor be reached by, the other members' until (virtual ms). */
  apiCutUntil: number;
  /** Its pre_promote script fails until (virtual ms). */
  vetoUntil: number;
}

interface Ack {
  readonly node: string;
  readonly rec: WalRecord;
  readonly at: number;
  readonly term: number;
  readonly reportedLsn: number;
}

export async function simulate(o: SimOptions): Promise<SimResult> {
  const w = new World(o);
  return w.run();
}

class World {
  readonly rng: Rng;
  readonly sched = new Scheduler();
  readonly store = new MemoryStore();
  readonly nodes: Node[];
  readonly switches: Set<Switch>;
  readonly mode: 'async' | 'sync' | 'strict';
  readonly failsafe: boolean;
  readonly config: ClusterConfig;
  /** The failsafe set each term's holder last stored with a renew. */
  private readonly failsafeSets = new Map<number, readonly string[]>();
  readonly faults: Fault[];
  readonly trace: string[] = [];
  readonly violations: Violation[] = [];
  readonly acks: Ack[] = [];
  private readonly tracing: boolean;
  private nextWrite = 1;
  private maxTerm = 0;
  private maxEndpointTerm = 0;
  private storeDownUntil = 0;
  private latencyUntil = 0;
  private lossyUntil = 0;
  private arbiterCutUntil = 0;
  private invocations = 0;
  /** Every invocation, scheduled or begun, with its start time. */
  private arbiters: { proc: Proc; at: number }[] = [];
  private endpointAt: string | null = null;
  private readonly rho: number;
  private lastAckAt = 0;
  private maxGapInFaults = 0;
  private faultsEnd = 0;
  private hostileUntil = 0;
  /** The leader item as the store holds it says its holder renewed unfenced (paused): no automatic grant may pass it. */
  private unfencedLease: { holder: string; term: number } | null = null;
  private operatorIds = 0;

  constructor(readonly o: SimOptions) {
    this.rng = new Rng(o.seed * 2654435761 + 1);
    this.switches = new Set(o.switches ?? []);
    this.tracing = o.trace === true;
    this.mode = o.mode ?? this.rng.pick(['async', 'async', 'sync', 'strict'] as const);
    this.failsafe = o.failsafe ?? o.seed % 2 === 1;
    this.config = clusterConfigSchema.parse({
      ...DEFAULT_CONFIG,
      failsafeMode: this.failsafe,
      ttl: TIMING.ttlMs / 1000,
      synchronousMode: this.mode !== 'async',
      synchronousModeStrict: this.mode === 'strict',
      maximumLagOnFailover: 4096,
    });
    this.rho = this.switches.has('drift-beyond-bound') ? 0.15 : TIMING.rho;
    this.nodes = NAMES.map((name, i) => ({
      i,
      name,
      pg: new PgModel(name),
      drift: (this.rng.next() * 2 - 1) * this.rho,
      base: this.rng.int(0, 1_000_000),
      agent: new Proc(`agent-${name}`),
      state: initialAgentState(this.config),
      keeper: { deadline: null, gen: 0 },
      fenceToken: 0,
      beating: null,
      writableSince: null,
      ackedInPeriod: false,
      reportedLsn: 0,
      clientCutUntil: 0,
      storeCutUntil: 0,
      handoverSince: null,
      leaseSentAt: -Infinity,
      lagUntil: 0,
      downUntil: 0,
      restarts: 0,
      apiCutUntil: 0,
      vetoUntil: 0,
    }));
    this.faults = faultSchedule(this.rng, this.nodes.length, o.classes ?? FAULT_CLASSES, o.profile ?? 'full');
  }

  log(line: string): void {
    if (this.tracing) this.trace.push(`${(this.sched.now / 1000).toFixed(3).padStart(8)} ${line}`);
  }

  violate(invariant: Invariant, detail: string): void {
    if (this.violations.some((v) => v.invariant === invariant)) return;
    this.violations.push({ invariant, at: this.sched.now, detail });
    this.log(`VIOLATION ${invariant}: ${detail}`);
  }

  async run(): Promise<SimResult> {
    // The operator's first node bootstraps; the others join a little later.
    this.nodes.forEach((n, i) => this.startAgent(n, i * 3000));
    for (const n of this.nodes) this.spawnClient(n);
    this.spawnReplicationPump();
    for (let t = 0; t < 400_000; t += TIMING.schedulePeriodMs) this.invokeArbiter(t + this.rng.int(0, TIMING.scheduleJitterMs), { kind: 'scheduled', time: t });
    for (const f of this.faults) this.inject(f);
    this.faultsEnd = Math.max(...this.faults.map((f) => f.at + f.durationMs), 0);
    const deadline = this.faultsEnd + LIVENESS_BOUND_MS;
    // Run until the cluster is settled after the faults (one healthy primary for 5 s), or the bound passes.
    let settledSince: number | null = null;
    let t = this.sched.now;
    while (t < deadline) {
      t += 1000;
      await this.sched.run(t, () => undefined);
      if (this.sched.now < this.faultsEnd) continue;
      if (this.healthy()) {
        settledSince ??= this.sched.now;
        if (this.sched.now - settledSince >= 5000) break;
      } else {
        settledSince = null;
      }
    }
    if (!this.healthy()) {
      const writable = this.nodes.filter((n) => n.pg.writable).map((n) => n.name);
      this.violate('liveness', `no single healthy primary ${LIVENESS_BOUND_MS} ms after the faults stopped (writable: ${writable.join(',') || 'none'}; leader: ${JSON.stringify(this.leaderRaw())})`);
    }
    return {
      seed: this.o.seed,
      mode: this.mode,
      failsafe: this.failsafe,
      faults: this.faults,
      violations: this.violations,
      trace: this.trace,
      events: this.sched.events,
      failoverMs: this.faults.map((f) => this.failoverAfter(f)),
      unavailableMs: this.maxGapInFaults,
    };
  }

  private leaderRaw(): unknown {
    return this.partitionRaw().get(SK.leader) ?? null;
  }

  private healthy(): boolean {
    const writable = this.nodes.filter((n) => n.pg.writable);
    const l = this.leaderRaw() as { holder?: string; phase?: string } | null;
    return writable.length === 1 && l !== null && l.holder === writable[0]?.name && l.phase === 'active';
  }

  private failoverAfter(f: Fault): number | null {
    const termAt = this.acks.filter((a) => a.at <= f.at).at(-1)?.term ?? 0;
    const next = this.acks.find((a) => a.at > f.at && a.term > termAt);
    return next === undefined ? null : next.at - f.at;
  }

  // ---- clocks ----------------------------------------------------------------

  mono(n: Node): number {
    return n.base + this.sched.now * (1 + n.drift);
  }

  /** Virtual time at which node n's clock reads `at`. */
  virtualAt(n: Node, at: number): number {
    return (at - n.base) / (1 + n.drift);
  }

  // ---- the store, behind faults ---------------------------------------------

  storeFor(caller: string, proc: Proc, node: Node | null): Store {
    const inner = this.store;
    return new Proxy(inner, {
      get: (target, prop) => {
        const f = (target as unknown as Record<string | symbol, unknown>)[prop];
        if (typeof f !== 'function') return f;
        return async (...args: unknown[]) => {
          const op = String(prop);
          const sentAt = node === null ? 0 : this.mono(node);
          const lat = (): number => (this.sched.now < this.latencyUntil ? this.rng.int(100, 2500) : this.rng.int(1, 8));
          await this.sched.sleep(proc, lat());
          const cut = this.sched.now < this.storeDownUntil || (node !== null ? this.sched.now < node.storeCutUntil : this.sched.now < this.arbiterCutUntil);
          if (cut) {
            await this.sched.sleep(proc, 1000);
            throw new StoreUnavailableError(op, 1000, 1, new Error(`sim: ${caller} cannot reach the store`));
          }
          let result = await (f as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          this.observe(caller, op, args, result);
          // The switch: the arbiter reads a lease held unfenced (paused) as an ordinary one.
          if (node === null && op === 'readCluster' && this.switches.has('unfenced-ignored')) result = withoutUnfenced(result as ClusterSnapshot);
          const applied = (result as { ok?: boolean } | null)?.ok === true;
          if (node !== null && applied && ['grantLeader', 'renewLeader', 'confirmLeader'].includes(op)) node.leaseSentAt = Math.max(node.leaseSentAt, sentAt);
          if (this.sched.now < this.lossyUntil && this.rng.chance(0.3)) {
            this.log(`store ${op} by ${caller} applied, answer lost`);
            await this.sched.sleep(proc, 1000);
            throw new StoreUnavailableError(op, 1000, 1, new Error('sim: answer lost'));
          }
          await this.sched.sleep(proc, lat());
          return result;
        };
      },
    }) as Store;
  }

  /** Invariants on what the store holds, at the instant each operation applied. */
  private observe(caller: string, op: string, args: unknown[], result: unknown): void {
    const r = result as { ok?: boolean; item?: Record<string, unknown>; leader?: { term: number } | null; endpoint?: { term: number } | null } | null;
    let term: number | undefined;
    let endpointTerm: number | undefined;
    if (op === 'readCluster' || op === 'readHead') {
      term = r?.leader?.term;
      endpointTerm = r?.endpoint?.term;
    } else if (r?.ok === true && r.item !== undefined) {
      if (['grantLeader', 'renewLeader', 'confirmLeader', 'beginHandover', 'completeHandover', 'releaseLeader'].includes(op)) term = r.item.term as number;
      if (op === 'recordEndpoint') endpointTerm = r.item.term as number;
    }
    if (term !== undefined) {
      if (term < this.maxTerm) this.violate('terms-grow', `leader term ${term} after ${this.maxTerm} (${op} by ${caller})`);
      this.maxTerm = Math.max(this.maxTerm, term);
    }
    if (endpointTerm !== undefined) {
      if (endpointTerm < this.maxEndpointTerm) this.violate('endpoint-forward', `endpoint term ${endpointTerm} after ${this.maxEndpointTerm}`);
      this.maxEndpointTerm = Math.max(this.maxEndpointTerm, endpointTerm);
    }
    if (r?.ok === true && r.item !== undefined && ['grantLeader', 'renewLeader', 'confirmLeader', 'releaseLeader'].includes(op)) {
      const it = r.item as { holder: string; phase: string; term: number; lastLsn: number };
      const holder = this.nodes.find((n) => n.name === it.holder);
      if (holder !== undefined && op !== 'grantLeader') holder.reportedLsn = it.lastLsn;
      const set = (r.item as { failsafe?: readonly string[] }).failsafe;
      if (op === 'renewLeader' && set !== undefined) this.failsafeSets.set(it.term, [...set]);
      this.unfencedLease = (r.item as { unfenced?: boolean }).unfenced === true ? { holder: it.holder, term: it.term } : null;
      this.log(`store ${op} by ${caller}: ${it.holder} term ${it.term} ${it.phase}`);
      if (op === 'grantLeader' && (args[1] as { expected: unknown }).expected !== null) {
        const others = this.nodes.filter((n) => n.name !== it.holder && n.pg.writable);
        // failsafe_mode: a grant that finds the old primary holding on is harmless while its grantee keeps a promise.
        const grantee = this.nodes.find((n) => n.name === it.holder);
        const kept = grantee !== undefined && holdsPromotionBack(grantee.state, this.mono(grantee));
        if (others.length > 0 && !kept) this.violate('fenced-before-grant', `term ${it.term} granted to ${it.holder} while ${others.map((n) => n.name).join(',')} writable`);
      }
    }
  }

  // ---- agents ----------------------------------------------------------------

  params(n: Node): AgentParams {
    return {
      name: n.name,
      tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
      safetyMarginMs: TIMING.safetyMarginMs,
      fastPollMs: 250,
      keeper: !this.switches.has('keeper-disabled'),
      connUrl: `postgres://${n.name}:5432/postgres`,
      wakesArbiter: !this.switches.has('no-arbiter-wake'),
      prePromote: true,
    };
  }

  startAgent(n: Node, at: number): void {
    const proc = new Proc(`agent-${n.name}`);
    n.agent = proc;
    n.state = initialAgentState(this.config);
    n.fenceToken += 1;
    this.sched.spawn(proc, at, () => this.agentLoop(n, proc).catch((err: unknown) => this.violate('processes-survive', `agent ${n.name} failed: ${String(err)}`)));
  }

  private async agentLoop(n: Node, proc: Proc): Promise<void> {
    const store = this.storeFor(`agent-${n.name}`, proc, n);
    const p = this.params(n);
    const step = (e: Parameters<typeof agentStep>[1]): readonly Effect[] => {
      const r = agentStep(n.state, e, p);
      n.state = r.state;
      return r.effects;
    };
    for (;;) {
      const startedAt = this.mono(n);
      let snapshot = null;
      let read: ReadKind = 'cluster';
      try {
        ({ snapshot, read } = await loopRead(store, CLUSTER, n.state, startedAt, { timeoutMs: 4000 }));
      } catch {
        snapshot = null;
      }
      await this.sched.sleep(proc, 1);
      let effects = step({ type: 'tick', now: this.mono(n), startedAt, snapshot, read, local: this.localOf(n), status: this.statusOf(n), shuttingDown: false });
      let delay: number | null = null;
      while (delay === null) {
        let call: CallEffect | null = null;
        for (const e of effects) {
          if (e.type === 'sleep') delay = e.ms;
          else if (e.type === 'exit') return;
          else if (e.type === 'heartbeat' && e.detached === true) this.beat(n, proc, e, step);
          else if (isCall(e)) call = e;
          else this.instant(n, proc, e, step);
        }
        if (delay !== null || call === null) break;
        const outcome = await this.execute(n, proc, store, call);
        effects = step({ type: 'result', now: this.mono(n), outcome });
      }
      await this.sched.sleep(proc, delay ?? 250);
    }
  }

  /**
   * A detached heartbeat, one in flight at a time per agent process: a
   * process of its own (a request already sent outlives its sender), whose
   * outcome reaches the agent only if that agent still runs.
   */
  private beat(n: Node, proc: Proc, e: Extract<Effect, { type: 'heartbeat' }>, step: (e: Parameters<typeof agentStep>[1]) => readonly Effect[]): void {
    if (n.beating === proc) return;
    n.beating = proc;
    const child = new Proc(`beat-${n.name}`);
    const gen = proc.gen;
    this.sched.spawn(child, this.sched.now, async () => {
      const outcome = await this.execute(n, child, this.storeFor(`agent-${n.name}`, child, n), { ...e, detached: false });
      if (n.beating === proc) n.beating = null;
      if (n.agent !== proc || proc.gen !== gen) return;
      for (const x of step({ type: 'heartbeatDone', now: this.mono(n), outcome })) this.instant(n, proc, x, step);
    });
  }

  private instant(n: Node, proc: Proc, e: Effect, step: (e: Parameters<typeof agentStep>[1]) => readonly Effect[]): void {
    if (e.type === 'log') {
      if (e.level !== 'info' || e.reason.code !== 'action') this.log(`${n.name} ${e.level} ${e.reason.code}: ${e.reason.text}`);
    } else if (e.type === 'fenceTimer') {
      const token = ++n.fenceToken;
      if (e.at === null) return;
      // The in-process timer shares the agent's fate: a stall or crash of the agent holds it back or drops it.
      this.sched.at(
        this.virtualAt(n, e.at),
        () => {
          if (token !== n.fenceToken) return;
          for (const x of step({ type: 'fenceDue', now: this.mono(n), standbySignal: n.pg.standbySignal })) this.instant(n, proc, x, step);
        },
        proc,
      );
    } else if (e.type === 'wakeArbiter') {
      // An asynchronous invocation: Lambda starts it a little later, whatever becomes of the agent.
      this.invokeArbiter(this.sched.now + this.rng.int(20, 500), { kind: 'wake', member: n.name });
    } else if (e.type === 'pg' && e.op.op === 'stop') {
      this.fenced(n, 'fence timer');
      this.pgStop(n, e.op.mode === 'fast', 'fence timer');
    }
  }

  private async execute(n: Node, proc: Proc, store: Store, call: CallEffect): Promise<Outcome> {
    const pg = n.pg;
    try {
      switch (call.type) {
        case 'readStatus':
          await this.sched.sleep(proc, 1);
          return { kind: 'status', status: this.statusOf(n) };
        case 'store':
          return await storeOutcome(store, CLUSTER, 4000, () => this.sched.now, call.op);
        case 'heartbeat': {
          const status = { ...call.fields, name: n.name, tags: this.params(n).tags, connUrl: this.params(n).connUrl, apiUrl: `http://${n.name}:8008/patroni`, heartbeatAt: Math.floor(this.sched.now) };
          const r = await store.heartbeat(CLUSTER, status, call.expectedVersion, { timeoutMs: 4000 });
          return r.ok ? { kind: 'written', item: r.item } : { kind: 'lost', current: (r.current ?? null) as unknown as Record<string, unknown> | null };
        }
        case 'keeper':
          await this.sched.sleep(proc, 1);
          if (call.op === 'arm') this.arm(n, call.deadline);
          else n.keeper = { deadline: null, gen: n.keeper.gen + 1 };
          return { kind: 'ok' };
        case 'pg':
          return await this.pgOp(n, proc, call.op);
        case 'failsafe':
          return await this.failsafeRound(n, proc, call);
        case 'hook':
          // A script takes a little while; inside a veto fault it exits non-zero.
          await this.sched.sleep(proc, 20);
          return this.sched.now < n.vetoUntil ? { kind: 'hook', ok: false, message: 'pre_promote exited with status 1' } : { kind: 'hook', ok: true, message: 'exited with status 0' };
      }
    } catch (err) {
      return { kind: 'error', message: (err as Error).message };
    }
    return { kind: 'ok' };
  }

  /**
   * One failsafe round: each target's agent hears the call after a delay,
   * unless its API is cut off, its agent is down or stalled, and answers; the
   * caller waits at most 1 s. The round extends the caller's lease (for the
   * lease-from-send check) only when every member of the set it stored for
   * the term promised.
   */
  private async failsafeRound(n: Node, proc: Proc, call: Extract<CallEffect, { type: 'failsafe' }>): Promise<Outcome> {
    const sentAt = this.mono(n);
    const stored = this.failsafeSets.get(call.term) ?? [];
    const asked = new Set(call.targets.map((t) => t.name));
    const missed = stored.filter((m) => m !== n.name && !asked.has(m));
    if (missed.length > 0) this.violate('failsafe-asks-all', `${n.name} (term ${call.term}) asked ${[...asked].join(',') || 'nobody'} but stored the set ${stored.join(',')}`);
    const answers: Record<string, 'ok' | 'refused' | 'unreachable'> = {};
    const timeoutMs = 1000;
    let latest = 1;
    for (const t of call.targets) {
      answers[t.name] = 'unreachable';
      const m = this.nodes.find((x) => x.name === t.name);
      if (m === undefined || this.sched.now < n.apiCutUntil) continue;
      const there = this.rng.int(1, 30);
      const back = this.rng.int(1, 30);
      if (there + back < timeoutMs) latest = Math.max(latest, there + back);
      this.sched.at(this.sched.now + there, () => {
        const now = this.sched.now;
        if (now < m.apiCutUntil || now < m.downUntil || m.agent.stalledUntil > now) return;
        const p = this.params(m);
        const r = agentStep(m.state, { type: 'failsafeAsk', now: this.mono(m), holder: call.holder, term: call.term, durationMs: call.durationMs }, p);
        m.state = r.state;
        for (const e of r.effects) {
          if (e.type === 'failsafeAnswer') {
            const ok = e.ok;
            this.sched.at(now + back, () => {
              if (this.sched.now - (now - there) <= timeoutMs) answers[t.name] = ok ? 'ok' : 'refused';
            });
          } else if (e.type === 'log') {
            this.log(`${m.name} ${e.level} ${e.reason.code}: ${e.reason.text}`);
          }
        }
      });
    }
    await this.sched.sleep(proc, latest + 1);
    // A member that does not answer is waited for until the timeout.
    if (call.targets.some((t) => answers[t.name] === 'unreachable')) await this.sched.sleep(proc, timeoutMs - latest - 1);
    // Any answer not back by now is, to the caller, no answer.
    const all = call.targets.every((t) => answers[t.name] === 'ok') && stored.every((m) => m === n.name || answers[m] === 'ok');
    if (all) n.leaseSentAt = Math.max(n.leaseSentAt, sentAt);
    this.log(`${n.name} failsafe round (term ${call.term}): ${call.targets.map((t) => `${t.name} ${answers[t.name]}`).join(', ') || 'no other member'}`);
    return { kind: 'failsafe', answers: { ...answers } };
  }

  private async pgOp(n: Node, proc: Proc, op: Extract<CallEffect, { type: 'pg' }>['op']): Promise<Outcome> {
    const pg = n.pg;
    const fail = (why: string): never => {
      throw new Error(`${op.op}: ${why}`);
    };
    // A checkpoint under load (a handover's first step) can take seconds: dirty buffers, a busy disk.
    const checkpointMs = this.rng.chance(0.3) ? this.rng.int(1000, 7000) : this.rng.int(5, 300);
    const took = { start: 150, startStandby: 150, promote: 50, stop: 80, restart: 80, clone: 300, rewind: 1000, initdb: 1000, checkpoint: checkpointMs }[op.op as string] ?? 2;
    if (op.op === 'checkpoint' && pg.running && !pg.inRecovery) n.handoverSince = this.sched.now;
    await this.sched.sleep(proc, took);
    switch (op.op) {
      case 'startStandby':
        if (pg.empty) fail('no data');
        pg.standbySignal = true;
        this.pgStart(n);
        return { kind: 'ok' };
      case 'start':
        if (pg.empty) fail('no data');
        this.pgStart(n);
        return { kind: 'ok' };
      case 'promote':
        if (!pg.running || !pg.inRecovery) fail('not in recovery');
        if (n.state.promise !== null && this.mono(n) < n.state.promise.until) {
          this.violate('promise-kept', `${n.name} promoted while it promised ${n.state.promise.holder} (term ${n.state.promise.term}) not to`);
        }
        pg.promote();
        this.log(`${n.name} pg promoted, timeline ${pg.timeline}`);
        this.becameWritable(n);
        return { kind: 'promoted', durationMs: took };
      case 'stop':
        this.pgStop(n, op.mode === 'fast', 'agent');
        return { kind: 'ok' };
      case 'restart':
        if (!pg.running) fail('not running');
        this.pgStop(n, true, 'restart');
        await this.sched.sleep(proc, 150);
        this.pgStart(n);
        return { kind: 'ok' };
      case 'reinit':
        // No operator asks for a reinit in the simulation.
        return fail('not modelled');
      case 'checkpoint':
        if (!pg.running) fail('not running');
        return { kind: 'ok' };
      case 'controldata': {
        const state = pg.running ? (pg.inRecovery ? 'in archive recovery' : 'in production') : pg.cleanShutdown ? (pg.wasPrimary ? 'shut down' : 'shut down in recovery') : pg.wasPrimary ? 'in production' : 'in archive recovery';
        return { kind: 'control', clusterState: state, checkpointLsn: pg.lsn, systemId: pg.systemId ?? '0' };
      }
      case 'clone': {
        const up = this.nodeNamed(op.from.name);
        if (pg.running) fail('running');
        if (!up.pg.running) fail(`cannot connect to ${up.name}`);
        pg.copyFrom(up.pg);
        pg.standbySignal = true;
        pg.upstream = up.name;
        pg.wasPrimary = false;
        pg.cleanShutdown = false;
        this.log(`${n.name} pg cloned from ${up.name} at ${pg.lsn}`);
        return { kind: 'ok' };
      }
      case 'rewind': {
        const up = this.nodeNamed(op.from.name);
        if (pg.running) fail('running');
        if (!up.pg.running) fail(`cannot connect to ${up.name}`);
        const rewound = !pg.canFollow(up.pg);
        if (rewound) pg.copyFrom(up.pg);
        pg.standbySignal = true;
        pg.upstream = up.name;
        pg.cleanShutdown = true;
        pg.wasPrimary = false;
        this.log(`${n.name} pg rewind against ${up.name}: ${rewound ? 'rewound' : 'nothing to do'}`);
        return { kind: 'rewound', rewound, durationMs: took };
      }
      case 'follow':
        pg.upstream = op.from.name;
        pg.standbySignal = true;
        return { kind: 'ok' };
      case 'setSync':
        pg.sync = op.spec;
        this.releaseWaiters(n);
        return { kind: 'ok' };
      case 'replication':
        if (!pg.running) fail('not running');
        return { kind: 'replication', rows: this.nodes.filter((s) => s.pg.running && s.pg.inRecovery && s.pg.upstream === n.name && s.pg.streaming).map((s) => ({ applicationName: s.name, state: 'streaming' })) };
      case 'createSlots':
        return { kind: 'ok' };
      case 'isRunning':
        return { kind: 'running', running: pg.running };
      case 'prepareBootstrap':
        if (op.wipe && pg.hasFiles && !pg.marker) {
          pg.wipedWithoutEvidence = true;
          this.violate('no-unevidenced-wipe', `${n.name} emptied a data directory (system ${pg.systemId}, ${pg.wal.length} writes) without its bootstrap marker`);
        }
        pg.marker = true;
        if (op.wipe) {
          pg.wal = [];
          pg.systemId = null;
          pg.hasFiles = false;
        }
        return { kind: 'ok' };
      case 'initdb':
        if (pg.running) fail('running');
        pg.hasFiles = true;
        pg.systemId = '7300000000000000001';
        pg.wal = [];
        pg.timeline = 1;
        pg.standbySignal = false;
        pg.cleanShutdown = true;
        pg.wasPrimary = false;
        return { kind: 'ok' };
      case 'clearBootstrapMarker':
        pg.marker = false;
        return { kind: 'ok' };
      case 'ensureReplicationRole':
        if (!pg.running) fail('not running');
        return { kind: 'ok' };
    }
  }

  nodeNamed(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  localOf(n: Node): LocalState {
    const pg = n.pg;
    return {
      empty: pg.empty,
      systemId: pg.systemId,
      running: pg.running,
      inRecovery: pg.running ? pg.inRecovery : null,
      following: pg.standbySignal || (pg.running && pg.inRecovery) ? pg.upstream : null,
      wasPrimary: pg.running ? !pg.inRecovery : pg.wasPrimary,
      cleanShutdown: !pg.running && pg.cleanShutdown,
      hasFiles: pg.hasFiles,
      bootstrapMarker: pg.marker,
      postmasterRunning: pg.running,
    };
  }

  statusOf(n: Node): PgReading | null {
    const pg = n.pg;
    if (!pg.running || pg.systemId === null) return null;
    return {
      inRecovery: pg.inRecovery,
      timeline: pg.timeline,
      currentLsn: pg.inRecovery ? null : pg.lsn,
      receivedLsn: pg.inRecovery ? pg.lsn : null,
      replayedLsn: pg.inRecovery ? pg.lsn : null,
      systemId: pg.systemId,
      postmasterStartedAt: pg.startedAt,
      receiverStreaming: pg.streaming,
    };
  }

  // ---- PostgreSQL transitions and the keeper ---------------------------------

  private pgStart(n: Node): void {
    n.pg.start(this.sched.now);
    this.log(`${n.name} pg started ${n.pg.inRecovery ? 'read-only' : 'WRITABLE'}`);
    if (n.pg.writable) this.becameWritable(n);
  }

  pgStop(n: Node, clean: boolean, by: string): void {
    if (!n.pg.running) return;
    // A clean shutdown sends all WAL, its shutdown checkpoint included, to the standbys streaming from it.
    if (clean) for (const s of this.nodes) if (s !== n && s.pg.upstream === n.name && s.pg.streaming) this.receive(s, n);
    n.pg.stop(clean);
    n.handoverSince = null;
    n.writableSince = null;
    n.ackedInPeriod = false;
    this.log(`${n.name} pg stopped (${clean ? 'fast' : 'immediate'}) by ${by}`);
  }

  private arm(n: Node, deadline: number): void {
    const bound = n.leaseSentAt + this.config.ttl * 1000 - TIMING.safetyMarginMs;
    // A lease the store holds unfenced is one no grant passes: a fence armed over it may start from now.
    const unfenced = this.unfencedLease?.holder === n.name;
    if (deadline > bound + 1 && !unfenced) this.violate('lease-from-send', `${n.name} armed its fence ${(deadline - bound).toFixed(0)} ms past send time + ttl - margin of its latest applied leader write`);
    const gen = n.keeper.gen + 1;
    n.keeper = { deadline, gen };
    this.sched.at(this.virtualAt(n, deadline) + this.rng.int(0, TIMING.keeperReactionMs), () => this.keeperCheck(n, gen));
  }

  private keeperCheck(n: Node, gen: number): void {
    if (n.keeper.gen !== gen || n.keeper.deadline === null || this.mono(n) < n.keeper.deadline) return;
    if (n.pg.writable && !n.pg.standbySignal) {
      this.fenced(n, 'fence keeper');
      this.pgStop(n, false, 'fence keeper');
    }
  }

  /** A fence is about to stop n: never a running standby, never a handover the store let renew. */
  private fenced(n: Node, by: string): void {
    if (n.pg.running && n.pg.inRecovery) this.violate('fence-spares-standbys', `${by} stopped ${n.name}, a running standby`);
    const since = n.handoverSince;
    if (since !== null && n.pg.running && !this.leaseFaultDuring(n, since - TIMING.ttlMs)) {
      this.violate('handover-keeps-lease', `${by} stopped ${n.name} ${this.sched.now - since} ms into its handover, with the store reachable throughout`);
    }
  }

  /** True when a fault that can cost n its lease overlapped [from, now]. */
  private leaseFaultDuring(n: Node, from: number): boolean {
    const now = this.sched.now;
    return this.faults.some((f) => {
      if (f.at > now || f.at + f.durationMs < from) return false;
      if (['store-outage', 'store-latency', 'lost-responses', 'hostile-item'].includes(f.kind)) return true;
      return f.node === n.i && ['partition-node-store', 'agent-stall', 'agent-crash', 'node-crash'].includes(f.kind);
    });
  }

  /** A node just became writable: it must hold what was acknowledged before. */
  private becameWritable(n: Node): void {
    n.writableSince = this.sched.now;
    n.ackedInPeriod = false;
    // The keeper goes on fencing past its deadline until it is armed again.
    if (n.keeper.deadline !== null && this.mono(n) >= n.keeper.deadline) {
      const gen = n.keeper.gen;
      this.sched.at(this.sched.now + this.rng.int(0, TIMING.keeperReactionMs), () => this.keeperCheck(n, gen));
    }
    const ids = new Set(n.pg.wal.map((r) => r.id));
    const maxLag = this.config.maximumLagOnFailover;
    for (const a of this.acks) {
      if (ids.has(a.rec.id)) continue;
      if (this.mode !== 'async') {
        this.violate('no-acked-loss-sync', `${n.name} writable without write ${a.rec.id} acknowledged by ${a.node} at ${a.at} (lsn ${a.rec.lsn})`);
        return;
      }
      if (a.rec.lsn <= a.reportedLsn - maxLag) {
        this.violate('bounded-loss-async', `${n.name} writable without write ${a.rec.id} (lsn ${a.rec.lsn}) acknowledged by ${a.node}, which had reported lsn ${a.reportedLsn}`);
        return;
      }
    }
  }

  // ---- clients and replication ---------------------------------------------

  private spawnClient(n: Node): void {
    const proc = new Proc(`client-${n.name}`);
    this.sched.spawn(proc, 0, async () => {
      for (;;) {
        await this.sched.sleep(proc, this.rng.int(150, 350));
        if (this.sched.now < n.clientCutUntil || !n.pg.writable) continue;
        const id = this.nextWrite++;
        const rec = n.pg.append(id, WRITE_BYTES);
        if (n.pg.syncSpec() === null) this.ack(n, rec);
        else n.pg.waiting.push({ id, lsn: rec.lsn, ack: () => this.ack(n, rec) });
        this.pump(n);
      }
    });
  }

  private ack(n: Node, rec: WalRecord): void {
    const now = this.sched.now;
    for (const o of this.nodes) {
      if (o !== n && o.writableSince !== null && o.ackedInPeriod && o.pg.writable) {
        this.violate('single-writer', `${n.name} acknowledged write ${rec.id} while ${o.name} (writable since ${o.writableSince}) acknowledges writes too`);
      }
    }
    // From the first promotion on: the bootstrap's primary has no standby to wait for until its first loop sets one.
    if (this.mode === 'strict' && this.maxTerm >= 2 && !this.nodes.some((o) => o !== n && holds(o.pg.wal, rec))) {
      this.violate('strict-two-copies', `${n.name} acknowledged write ${rec.id} (lsn ${rec.lsn}) held by no other node`);
    }
    n.ackedInPeriod = true;
    const term = this.maxTerm;
    this.acks.push({ node: n.name, rec, at: now, term, reportedLsn: n.reportedLsn });
    if (now > 25_000 && now < this.faultsEnd + 10_000) this.maxGapInFaults = Math.max(this.maxGapInFaults, now - this.lastAckAt);
    this.lastAckAt = now;
  }

  /** Streams `up`'s new WAL to the standbys that follow it, a few ms later. */
  private pump(up: Node): void {
    for (const s of this.nodes) {
      if (s === up || s.pg.upstream !== up.name || !s.pg.running || !s.pg.inRecovery) continue;
      this.sched.at(this.sched.now + this.rng.int(1, 4), () => this.receive(s, up));
    }
  }

  private receive(s: Node, up: Node): void {
    if (this.sched.now < s.lagUntil) return;
    if (!s.pg.running || !s.pg.inRecovery || s.pg.upstream !== up.name || !up.pg.running) {
      s.pg.streaming = false;
      return;
    }
    if (!s.pg.canFollow(up.pg)) {
      s.pg.streaming = false;
      return;
    }
    const had = s.pg.wal.length;
    if (up.pg.wal.length > had) s.pg.wal.push(...up.pg.wal.slice(had));
    s.pg.timeline = Math.max(s.pg.timeline, up.pg.timeline);
    s.pg.streaming = true;
    this.releaseWaiters(up);
    if (s.pg.wal.length > had) this.pump(s);
  }

  /** Acknowledges the commits of `p` that its synchronous standbys have. */
  private releaseWaiters(p: Node): void {
    const pg = p.pg;
    if (pg.waiting.length === 0) return;
    const spec = pg.syncSpec();
    const standbys = this.nodes.filter((s) => s !== p && s.pg.running && s.pg.inRecovery && s.pg.upstream === p.name && s.pg.streaming && (spec === null || spec.names.includes('*') || spec.names.includes(s.name)));
    const count = spec?.count ?? 0;
    const done: typeof pg.waiting = [];
    const keep: typeof pg.waiting = [];
    for (const w of pg.waiting) {
      const have = standbys.filter((s) => s.pg.lsn >= w.lsn && s.pg.wal[s.pg.wal.length - 1] !== undefined && s.pg.canFollow(pg)).length;
      (spec === null || have >= count ? done : keep).push(w);
    }
    pg.waiting = keep;
    for (const w of done) w.ack();
  }

  private spawnReplicationPump(): void {
    const proc = new Proc('replication');
    this.sched.spawn(proc, 0, async () => {
      for (;;) {
        await this.sched.sleep(proc, 500);
        for (const s of this.nodes) {
          const up = s.pg.upstream === null ? undefined : this.nodes.find((x) => x.name === s.pg.upstream);
          if (up !== undefined && s.pg.running && s.pg.inRecovery) this.receive(s, up);
        }
      }
    });
  }

  // ---- the arbiter -----------------------------------------------------------

  /**
   * One invocation of the arbiter function: the event it gets (a schedule, an
   * agent's wake) is planned by the real planInvocation, with what Lambda
   * grants it, and run by the real runLoop.
   */
  invokeArbiter(at: number, how: { readonly kind: 'scheduled'; readonly time: number } | { readonly kind: 'wake'; readonly member: string }): void {
    const id = `inv-${++this.invocations}`;
    const proc = new Proc(`arbiter-${id}`);
    this.arbiters.push({ proc, at });
    const skew = (this.rng.next() * 2 - 1) * TIMING.arbiterSkewMs;
    const drift = (this.rng.next() * 2 - 1) * this.rho;
    const epoch = 1_800_000_000_000;
    const clock = { now: () => Math.floor(epoch + this.sched.now * (1 + drift) + skew), sleep: (ms: number) => this.sched.sleep(proc, ms) };
    const mover: EndpointMover = {
      kind: 'none',
      move: async (t) => {
        await this.sched.sleep(proc, 5);
        this.endpointAt = t.member;
        return { target: t.member };
      },
      pointsAt: async (t) => this.endpointAt === t.member,
    };
    const checked = new Map<string, number>();
    const movers: MoverCache = {
      get: () => mover,
      checkedAt: (c) => checked.get(`${c.namespace}/${c.scope}`),
      markChecked: (c, at) => void checked.set(`${c.namespace}/${c.scope}`, at),
      close: async () => undefined,
    };
    const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    this.sched.spawn(proc, at, async () => {
      this.log(`arbiter ${id} invoked: ${how.kind === 'scheduled' ? `schedule ${how.time}` : `wake by ${how.member}`}`);
      const deps = {
        store: this.storeFor(`arbiter-${id}`, proc, null),
        movers,
        clock,
        log: silent,
        arbiterId: 'shard-0',
        leaseMs: 10_000,
        stepTimeoutMs: 3000,
        metrics: { cluster: () => undefined, clusterError: () => undefined },
        invocationId: id,
        loopLeaseMs: TIMING.loopLeaseMs,
      };
      try {
        const event: ArbiterEvent = how.kind === 'scheduled' ? { kind: 'scheduled', time: epoch + how.time } : { kind: 'wake', cluster: CLUSTER, member: how.member, reason: 'arbiter_wake' };
        const plan = planInvocation(event, clock.now(), TIMING.functionTimeoutMs, { tickMs: TIMING.tickMs, handoverMarginMs: 1500 });
        const s = await runLoop(deps, { ...plan, clusters: [CLUSTER], tickMs: TIMING.tickMs });
        this.log(`arbiter ${id} ended: ${s.status}, ${s.grants} grants`);
      } catch (err) {
        this.violate('processes-survive', `arbiter ${id} failed: ${String(err)}`);
      }
    });
  }

  // ---- faults ----------------------------------------------------------------

  private inject(f: Fault): void {
    const n = this.nodes[f.node] as Node;
    const end = f.at + f.durationMs;
    this.sched.at(f.at, () => {
      this.log(`FAULT ${f.kind} node ${n.name} for ${f.durationMs} ms`);
      switch (f.kind) {
        case 'agent-crash':
          this.crashAgent(n, end);
          return;
        case 'node-crash':
          this.crashAgent(n, end);
          this.pgStop(n, false, 'node crash');
          n.keeper = { deadline: null, gen: n.keeper.gen + 1 };
          return;
        case 'pg-crash':
          this.pgStop(n, false, 'crash');
          return;
        case 'agent-stall':
          this.sched.stall(n.agent, end);
          return;
        case 'store-outage':
          this.storeDownUntil = Math.max(this.storeDownUntil, end);
          return;
        case 'store-latency':
          this.latencyUntil = Math.max(this.latencyUntil, end);
          return;
        case 'lost-responses':
          this.lossyUntil = Math.max(this.lossyUntil, end);
          return;
        case 'partition-node-store':
          n.storeCutUntil = Math.max(n.storeCutUntil, end);
          return;
        case 'partition-arbiter-store':
          this.arbiterCutUntil = Math.max(this.arbiterCutUntil, end);
          return;
        case 'partition-client-node':
          n.clientCutUntil = Math.max(n.clientCutUntil, end);
          return;
        case 'arbiter-restart': {
          // Killed mid-step: a new invocation of the same schedule, with no memory, starts at once.
          for (const p of this.running()) this.sched.kill(p);
          this.invokeArbiter(this.sched.now, { kind: 'scheduled', time: this.lastSchedule() });
          return;
        }
        case 'arbiter-death':
          // Killed mid-step, and nothing restarts it: an agent's wake or the next schedule takes over.
          for (const p of this.running()) this.sched.kill(p);
          return;
        case 'arbiter-duplicate':
          this.invokeArbiter(this.sched.now, { kind: 'scheduled', time: this.lastSchedule() });
          return;
        case 'arbiter-delay':
          for (const p of this.running()) this.sched.stall(p, end);
          return;
        case 'replication-lag':
          n.lagUntil = Math.max(n.lagUntil, end);
          return;
        case 'partition-member-api':
          n.apiCutUntil = Math.max(n.apiCutUntil, end);
          return;
        case 'pre-promote-veto':
          n.vetoUntil = Math.max(n.vetoUntil, end);
          return;
        case 'hostile-item':
          this.hostile(n, end);
          return;
        case 'operator-restart': {
          // The agent API's call: answered later by operatorDone, which nobody here waits for.
          if (this.sched.now < n.downUntil || n.agent.stalledUntil > this.sched.now) return;
          n.state = agentStep(n.state, { type: 'operator', now: this.mono(n), id: ++this.operatorIds, op: 'restart' }, this.params(n)).state;
          return;
        }
        case 'pause':
          void this.setPaused(true);
          this.sched.at(end, () => void this.setPaused(false));
          return;
        case 'switchover':
          void this.store.setFailover(CLUSTER, { kind: 'switchover', requestedAt: Math.floor(this.sched.now), requestedBy: 'sim' }, null).catch(() => undefined);
          return;
      }
    });
  }

  /** The operator's pause or resume: a CAS on the config item, as the CLI writes it; a lost race is retried. */
  private async setPaused(paused: boolean): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const cur = await this.store.getConfig(CLUSTER).catch(() => null);
      const r = await this.store.putConfig(CLUSTER, { ...(cur?.config ?? this.config), paused }, cur?.version ?? null).catch(() => null);
      if (r?.ok === true) {
        this.log(`operator: cluster ${paused ? 'paused' : 'resumed'}`);
        return;
      }
    }
    this.log(`operator: ${paused ? 'pause' : 'resume'} not written`);
  }

  /** The latest schedule time (virtual ms) at or before now. */
  private lastSchedule(): number {
    return Math.floor(this.sched.now / TIMING.schedulePeriodMs) * TIMING.schedulePeriodMs;
  }

  /** The invocations begun by now: a restart or a delay hits those, never the schedule's later ones. */
  private running(): Proc[] {
    return this.arbiters.filter((a) => a.at <= this.sched.now).map((a) => a.proc);
  }

  /** Kills n's agent; one agent comes back once every crash that overlaps has ended. */
  private crashAgent(n: Node, end: number): void {
    this.sched.kill(n.agent);
    n.fenceToken += 1;
    n.downUntil = Math.max(n.downUntil, end);
    const gen = ++n.restarts;
    this.sched.at(n.downUntil, () => {
      if (gen === n.restarts) this.startAgent(n, this.sched.now);
    });
  }

  // ---- hostile store content -------------------------------------------------

  /** The cluster's stored items as they are, malformed ones included (empty before the first write). */
  private partitionRaw(): Map<string, Record<string, unknown>> {
    const parts = (this.store as unknown as { partitions: Map<string, Map<string, Record<string, unknown>>> }).partitions;
    return parts.get(clusterPk(CLUSTER)) ?? new Map();
  }

  /**
   * Any node can write its cluster's partition: one item is made malformed
   * or crafted. A malformed member of no node stays for good; the others are
   * repaired (put back as they were) when the fault ends, if still as written.
   * The leader item is removed only beside a crafted initialize item, and put
   * back with it.
   */
  private hostile(n: Node, end: number): void {
    // One at a time: a repair puts back what the item held before, which must not be another's damage.
    if (this.sched.now < this.hostileUntil) return;
    this.hostileUntil = end;
    const part = this.partitionRaw();
    const kind = this.rng.pick(['ghost-member', 'own-member', 'leader', 'config', 'sync', 'failover', 'endpoint', 'arbiter', 'initialize-unfinished', 'initialize-foreign'] as const);
    const put = (sk: string, item: Record<string, unknown>): void => void this.store.putRaw({ pk: clusterPk(CLUSTER), sk }, item);
    const restoreLater = (sk: string, saved: Record<string, unknown> | undefined): void => {
      const written = JSON.stringify(part.get(sk) ?? null);
      this.sched.at(end, () => {
        const now = this.partitionRaw();
        if (JSON.stringify(now.get(sk) ?? null) !== written) return;
        if (saved === undefined) now.delete(sk);
        else put(sk, saved);
        this.log(`hostile ${sk} repaired`);
      });
    };
    this.log(`hostile item: ${kind} (node ${n.name})`);
    switch (kind) {
      case 'ghost-member':
        put(memberSk('zz'), { name: 'zz', role: 7, version: 1 });
        return;
      case 'own-member': {
        const cur = part.get(memberSk(n.name));
        if (cur !== undefined) put(memberSk(n.name), { ...structuredClone(cur), lsn: 'corrupt' });
        return;
      }
      case 'initialize-unfinished':
      case 'initialize-foreign': {
        // A crafted initialize item naming this node, with the leader item gone: the store's word alone.
        const init = part.get(SK.initialize);
        const leader = part.get(SK.leader);
        const version = typeof init?.version === 'number' ? init.version + 1 : 1;
        const systemId = kind === 'initialize-foreign' ? init?.systemId : undefined;
        put(SK.initialize, { initializedBy: n.name, ...(systemId === undefined ? {} : { systemId }), version });
        this.partitionRaw().delete(SK.leader);
        restoreLater(SK.initialize, init);
        if (leader !== undefined) {
          this.sched.at(end, () => {
            if (!this.partitionRaw().has(SK.leader)) put(SK.leader, leader);
          });
        }
        return;
      }
      default: {
        const field = { leader: 'term', config: 'config', sync: 'standbys', failover: 'request', endpoint: 'term', arbiter: 'leaseExpiresAt' }[kind];
        const saved = part.get(SK[kind]);
        put(SK[kind], saved === undefined ? { version: 1, [field]: 'corrupt' } : { ...structuredClone(saved), [field]: 'corrupt' });
        restoreLater(SK[kind], saved === undefined ? undefined : structuredClone(saved));
      }
    }
  }
}

/** True when `wal` holds `rec` (same id at its position: not a divergent history). */
function holds(wal: readonly WalRecord[], rec: WalRecord): boolean {
  for (let i = wal.length - 1; i >= 0; i--) {
    const r = wal[i] as WalRecord;
    if (r.id === rec.id) return true;
    if (r.lsn < rec.lsn) return false;
  }
  return false;
}
