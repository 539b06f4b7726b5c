// The node agent process: a thin shell around the step machine in
// lib/ha/agent-step.ts. Each loop it reads the cluster and the local
// PostgreSQL, feeds them as a tick, carries out each effect the machine asks
// for (lib/agent/effects.ts) and feeds back its outcome, until the machine
// says sleep or exit. Nothing here decides.
//
// Invariants:
// - The in-process fence timer is armed and cleared only by the machine's
//   effects; the fence keeper (outside this process) holds the same deadline,
//   so a stalled loop cannot keep PostgreSQL writable past its lease.
// - /primary answers 503 from the moment any demotion starts.
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { clusterLabel, type ClusterId } from '../dcs/keys.js';
import type { ClusterSnapshot, MalformedEntry, Store } from '../dcs/store.js';
import { describeMalformed } from '../dcs/snapshot.js';
import { agentStep, initialAgentState, type AgentEvent, type AgentParams, type AgentState, type CallEffect, type Effect } from '../ha/agent-step.js';
import { isCall } from '../ha/agent-effects.js';
import type { ReadKind } from '../ha/head-read.js';
import { loopRead } from './loop-read.js';
import type { PostgresNode } from '../postgres/node.js';
import { bootstrapClusterConfig, splitHostPort, type AgentConfig } from './config.js';
import { execute, slotName, toReading, type EffectDeps } from './effects.js';
import { readLocal } from './local.js';
import type { AgentStatus, ClusterView } from './status.js';
import type { Fence } from './fence-keeper.js';
import { callFailsafe } from './failsafe-client.js';
import type { MutationResult } from './api.js';
import type { FailsafeBody } from './api-body.js';
import type { ArbiterWaker } from './arbiter-waker.js';
import { ParameterSync } from './parameters.js';
import { Callbacks, type CallbackRole } from './callbacks.js';
import { VERSION } from './version.js';
import { currentLeader, leaderName } from '../ha/leadership.js';
import { OperatorRequests } from './operator-requests.js';
import type { OperatorOp } from '../ha/agent-effects.js';
import { SlotKeeper } from './slot-keeper.js';
import type { NodeStatus } from '../postgres/status.js';

export { slotName };

export interface AgentLog {
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

export interface AgentDeps {
  readonly store: Store;
  readonly pg: PostgresNode;
  readonly log: AgentLog;
  /** Monotonic ms. */
  readonly monotonic?: () => number;
  /** Wall clock ms, for heartbeatAt and history only. */
  readonly wallClock?: () => number;
  /** Fast polling interval while the cluster is in transition, ms. */
  readonly fastPollMs?: number;
  readonly safetyMarginMs?: number;
  readonly noSync?: boolean;
  /** Holds the lease deadline outside this process; without it only the in-process fence timer does. */
  readonly fence?: Fence;
  /** Wakes the arbiter out of schedule; without it the agent only waits for the schedule. */
  readonly waker?: ArbiterWaker;
}

export class AgentRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentRefusedError';
  }
}

export class Agent {
  readonly cluster: ClusterId;
  private readonly mono: () => number;
  private readonly wall: () => number;
  private readonly params: AgentParams;
  private readonly effects: EffectDeps;
  private state: AgentState;
  private fenceTimer: NodeJS.Timeout | undefined;
  private lastLoopAt: number;
  private shuttingDown = false;
  private wake: (() => void) | undefined;
  private stopped: Promise<void> | undefined;
  private malformedSeen = new Set<string>();
  private malformed: readonly MalformedEntry[] = [];
  private storeErrors = 0;
  /** Loop reads sent since start: of the whole partition, and of its head alone. */
  private readonly reads = { cluster: 0, head: 0 };
  /** The detached heartbeat in flight, if any. */
  private beating: Promise<void> | undefined;
  private readonly parameters: ParameterSync;
  private readonly slots: SlotKeeper;
  /** The operator's callbacks and pre_promote (postgresql.callbacks, postgresql.pre_promote). */
  readonly callbacks: Callbacks;
  /** The local server's last status: what the heartbeat says of its version and pending restart. */
  private lastPg: NodeStatus | null = null;
  private readonly memoryBytes = totalmem();
  /** The operator's requests over the API (restart, reload, reinitialize). */
  readonly operator: OperatorRequests;
  private opSeq = 0;
  private readonly ops = new Map<number, { readonly answer: 'begun' | 'done'; readonly resolve: (r: MutationResult) => void; timer: NodeJS.Timeout | undefined }>();

  constructor(
    readonly settings: AgentConfig,
    private readonly deps: AgentDeps,
  ) {
    this.cluster = { namespace: settings.namespace, scope: settings.scope };
    this.mono = deps.monotonic ?? (() => performance.now());
    this.wall = deps.wallClock ?? (() => Date.now());
    const config = bootstrapClusterConfig(settings);
    this.state = initialAgentState(config);
    this.params = {
      name: settings.name,
      tags: this.tags,
      safetyMarginMs: deps.safetyMarginMs ?? Math.min(2000, config.ttl * 200),
      fastPollMs: deps.fastPollMs ?? 50,
      keeper: deps.fence !== undefined,
      connUrl: this.connUrl,
      wakesArbiter: deps.waker !== undefined,
      reinitOnRewindFailure: settings.postgresql.remove_data_directory_on_rewind_failure,
      prePromote: settings.postgresql.pre_promote !== undefined,
    };
    const pgc = settings.postgresql;
    this.callbacks = new Callbacks({ scripts: pgc.callbacks, ...(pgc.pre_promote !== undefined ? { prePromote: pgc.pre_promote } : {}), timeoutMs: pgc.callback_timeout * 1000, scope: settings.scope, osUser: pgc.os_user }, deps.log);
    this.effects = {
      store: deps.store,
      pg: deps.pg,
      ...(deps.fence !== undefined ? { fence: deps.fence } : {}),
      ...(deps.noSync !== undefined ? { noSync: deps.noSync } : {}),
      cluster: this.cluster,
      timeoutMs: () => this.state.config.retryTimeout * 1000,
      wallClock: this.wall,
      // Members answer within a loop or not at all: the round must end well inside the lease.
      failsafe: (call) => callFailsafe(call, settings.restapi.authentication ?? null, Math.min(1000, this.state.config.loopWait * 500)),
      storeError: () => {
        this.storeErrors += 1;
      },
      hook: () => this.callbacks.prePromote(),
      onPgDone: (op, o) => this.callbacks.afterPg(op.op, o.kind !== 'error', () => this.roleNow(), this.lastPg?.inRecovery === false ? 'primary' : 'replica'),
      identity: () => ({
        name: this.name,
        tags: this.tags,
        connUrl: this.connUrl,
        apiUrl: this.apiUrl,
        storeErrors: this.storeErrors,
        memoryBytes: this.memoryBytes,
        agentVersion: VERSION,
        ...(this.lastPg !== null ? { serverVersion: this.lastPg.serverVersion, pendingRestart: [...this.lastPg.pendingRestart] } : {}),
        ...(this.lastPg?.inRecovery === true ? { receiver: this.lastPg.walReceiver?.status ?? 'none' } : {}),
        ...(this.parameters.problems.length > 0 ? { parameterProblems: this.parameters.problems.map((p) => p.message) } : {}),
        ...(this.slots.retainedBytes() !== null ? { slotRetainedBytes: this.slots.retainedBytes() ?? 0 } : {}),
        ...(this.slots.permanentLsns() !== null ? { permanentSlotLsns: { ...this.slots.permanentLsns() } } : {}),
        ...(settings.aws.instance_id !== undefined ? { instanceId: settings.aws.instance_id } : {}),
        ...(settings.aws.network_interface_id !== undefined ? { networkInterfaceId: settings.aws.network_interface_id } : {}),
        ...(settings.aws.private_ip !== undefined ? { privateIp: settings.aws.private_ip } : {}),
      }),
    };
    // A parameter change that the server was reloaded for is a reload to the callbacks too.
    const afterWrite = (): void => {
      void deps.pg.isRunning().then((running) => (running ? this.callbacks.fire('on_reload', () => this.roleNow()) : undefined));
    };
    this.parameters = new ParameterSync(deps.pg, { info: (m) => deps.log.info(m), warn: (m) => deps.log.warn(m) }, this.memoryBytes, afterWrite);
    this.operator = new OperatorRequests({
      run: (op, answer) => this.runOperator(op, answer),
      role: () => this.status().role,
      pendingRestart: () => this.lastPg?.pendingRestart ?? [],
      reload: async () => {
        await this.parameters.sync(this.state.config.postgresql.parameters, { force: true });
        if (await deps.pg.isRunning()) {
          await deps.pg.reload();
          this.callbacks.fire('on_reload', () => this.roleNow());
        }
      },
      log: { info: (m) => deps.log.info(m), warn: (m) => deps.log.warn(m) },
      now: this.wall,
    });
    this.slots = new SlotKeeper(deps.pg, settings.name, { info: (m) => deps.log.info(m), warn: (m) => deps.log.warn(m) }, () => this.state.config);
    this.lastLoopAt = this.mono();
  }

  private get name(): string {
    return this.settings.name;
  }

  private get tags() {
    const t = this.settings.tags;
    return { nofailover: t.nofailover, failoverPriority: t.failover_priority, nosync: t.nosync, noloadbalance: t.noloadbalance };
  }

  private get connUrl(): string {
    const { host, port } = splitHostPort(this.settings.postgresql.connect_address);
    return `postgres://${host.includes(':') ? `[${host}]` : host}:${port}/postgres`;
  }

  private get apiUrl(): string {
    return `http://${this.settings.restapi.connect_address}/patroni`;
  }

  /** Runs loops until shutdown() (then demotes or stops and releases) or a refusal. */
  run(): Promise<void> {
    this.stopped ??= this.loop();
    return this.stopped;
  }

  /** Asks for a clean shutdown: a holder stops taking writes and releases its lease. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    this.wake?.();
    await this.stopped;
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        const began = this.mono();
        const delay = await this.iteration();
        const took = this.mono() - began;
        if (took > this.state.config.ttl * 1000) this.deps.log.warn(`a loop took ${(took / 1000).toFixed(1)} s (ttl ${this.state.config.ttl} s)`);
        this.lastLoopAt = this.mono();
        if (delay === null) return;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    } finally {
      this.setFenceTimer(null);
      this.operator.close();
      for (const [id, op] of this.ops) this.answerOp(id, { status: 503, message: 'the agent is shutting down' }, op);
    }
  }

  /**
   * Queues an operator's request in the step machine and answers when it has
   * begun or ended (`answer`), or was refused. One that has not begun within
   * two ttl (no steady loop) is dropped.
   */
  private runOperator(op: OperatorOp, answer: 'begun' | 'done'): Promise<MutationResult> {
    const id = ++this.opSeq;
    return new Promise<MutationResult>((resolve) => {
      const entry = { answer, resolve, timer: undefined as NodeJS.Timeout | undefined };
      this.ops.set(id, entry);
      entry.timer = setTimeout(() => {
        for (const e of this.step({ type: 'operatorCancel', now: this.mono(), id })) this.instant(e);
        if (this.state.operator?.id !== id) this.answerOp(id, { status: 503, message: `${op} not run: no steady loop within ${2 * this.state.config.ttl} s` }, entry);
      }, 2 * this.state.config.ttl * 1000);
      entry.timer.unref?.();
      for (const e of this.step({ type: 'operator', now: this.mono(), id, op })) this.instant(e);
      this.wake?.();
    });
  }

  private answerOp(id: number, r: MutationResult, entry: { resolve: (r: MutationResult) => void; timer: NodeJS.Timeout | undefined }): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    this.ops.delete(id);
    entry.resolve(r);
  }

  /** One loop: the delay before the next, or null when the agent should exit. */
  private async iteration(): Promise<number | null> {
    const { store, pg, log } = this.deps;
    // A shutdown's last heartbeat goes by the version the one in flight writes.
    if (this.shuttingDown) await this.beating;
    const startedAt = this.mono();
    const { snapshot, read } = await this.read(startedAt);
    this.reportMalformed(snapshot?.malformed ?? []);
    // A malformed or absent config item leaves the last one read in force.
    await this.parameters.sync(snapshot?.config?.config.postgresql.parameters ?? this.state.config.postgresql.parameters);
    const reading = await readLocal(pg, snapshot?.members ?? []);
    this.lastPg = reading.status;
    this.callbacks.observeRole(reading.status === null ? null : reading.status.inRecovery ? 'replica' : 'primary');
    try {
      await this.slots.sync({
        snapshot,
        primary: reading.status !== null && !reading.status.inRecovery,
        holder: this.state.snapshot?.leader?.holder === this.name,
        mayPromote: reading.status !== null && reading.status.inRecovery && !this.settings.tags.nofailover,
        replayLsn: reading.status?.replayedLsn ?? null,
        membersSeen: this.state.membersSeen,
        now: this.mono(),
      });
    } catch (err) {
      log.warn(`replication slots not synced: ${(err as Error).message}`);
    }
    let effects = this.step({ type: 'tick', now: this.mono(), startedAt, snapshot, read, local: reading.state, status: toReading(reading.status), shuttingDown: this.shuttingDown });
    for (;;) {
      let call: CallEffect | null = null;
      for (const e of effects) {
        if (e.type === 'sleep') return e.ms;
        if (e.type === 'exit') {
          if (e.refused !== null) throw new AgentRefusedError(e.refused.text);
          return null;
        }
        if (isCall(e)) call = e;
        else this.instant(e);
      }
      if (call === null) return Math.min(this.params.fastPollMs, this.state.config.loopWait * 1000);
      const outcome = await execute(this.effects, call);
      effects = this.step({ type: 'result', now: this.mono(), outcome });
    }
  }

  /** The running server's role as it reports it now; the last one read when it cannot say. */
  private async roleNow(): Promise<CallbackRole> {
    const s = await this.deps.pg.status().catch(() => this.lastPg);
    return s?.inRecovery === false ? 'primary' : 'replica';
  }

  /** The loop's read of the store (loop-read.ts); a null snapshot when the store cannot be read. */
  private async read(startedAt: number): Promise<{ snapshot: ClusterSnapshot | null; read: ReadKind }> {
    try {
      const r = await loopRead(this.deps.store, this.cluster, this.state, startedAt, { timeoutMs: this.state.config.retryTimeout * 1000 });
      for (const k of r.sent) this.reads[k] += 1;
      return r;
    } catch (err) {
      this.deps.log.warn(`cannot read the cluster: ${(err as Error).message}`);
      return { snapshot: null, read: 'cluster' };
    }
  }

  /** Logs each malformed item once, when it appears; the health API serves the current ones. */
  private reportMalformed(entries: readonly MalformedEntry[]): void {
    const now = new Set(entries.map((e) => `${e.key}/${e.field}`));
    for (const e of entries) {
      if (!this.malformedSeen.has(`${e.key}/${e.field}`)) this.deps.log.warn(`store item ${describeMalformed(e)} is malformed and set aside: ${e.message}`);
    }
    this.malformedSeen = now;
    this.malformed = entries;
  }

  private step(event: AgentEvent): readonly Effect[] {
    const r = agentStep(this.state, event, this.params);
    this.state = r.state;
    return r.effects;
  }

  /** The effects that take no time and report nothing back. */
  private instant(e: Effect): void {
    switch (e.type) {
      case 'log':
        this.deps.log[e.level](e.reason.text, { code: e.reason.code, ...(e.situation !== undefined ? { situation: e.situation } : {}) });
        return;
      case 'fenceTimer':
        this.setFenceTimer(e.at);
        return;
      case 'heartbeat':
        this.beat(e);
        return;
      case 'operatorBegun': {
        const op = this.ops.get(e.id);
        if (op === undefined) return;
        if (op.timer !== undefined) clearTimeout(op.timer);
        op.timer = undefined;
        if (op.answer === 'begun') this.answerOp(e.id, { status: 202, message: 'started' }, op);
        return;
      }
      case 'operatorDone': {
        if (!e.ok) this.deps.log.warn(e.reason.text, { code: e.reason.code });
        const op = this.ops.get(e.id);
        if (op !== undefined) this.answerOp(e.id, { status: e.ok ? 200 : 503, message: e.reason.text }, op);
        return;
      }
      case 'wakeArbiter':
        void this.deps.waker?.wake({ cluster: this.cluster, member: this.name, reason: e.reason.code }).catch((err: Error) => this.deps.log.warn(err.message));
        return;
      case 'pg':
        // Detached: the fence timer's stop runs beside whatever the loop is doing.
        void execute(this.effects, { ...e, detached: false }).then((o) => {
          if (o.kind === 'error') this.deps.log.error(`fencing failed: ${o.message}`);
        });
        return;
      default:
        return;
    }
  }

  /** Runs a detached heartbeat beside the loop; one asked for while another is in flight is dropped. */
  private beat(e: Extract<Effect, { type: 'heartbeat' }>): void {
    if (this.beating !== undefined) return;
    this.beating = execute(this.effects, { ...e, detached: false }).then((outcome) => {
      this.beating = undefined;
      for (const x of this.step({ type: 'heartbeatDone', now: this.mono(), outcome })) this.instant(x);
    });
  }

  private setFenceTimer(at: number | null): void {
    if (this.fenceTimer !== undefined) clearTimeout(this.fenceTimer);
    this.fenceTimer = undefined;
    if (at === null) return;
    this.fenceTimer = setTimeout(() => {
      this.fenceTimer = undefined;
      const standbySignal = existsSync(join(this.deps.pg.config.dataDir, 'standby.signal'));
      for (const e of this.step({ type: 'fenceDue', now: this.mono(), standbySignal })) this.instant(e);
    }, Math.max(0, at - this.mono()));
    this.fenceTimer.unref?.();
  }

  /** failsafe_mode: a member's call over the API (authenticated by it); 200 promises, 409 refuses. */
  failsafe(ask: FailsafeBody): MutationResult {
    let answer: MutationResult = { status: 409, message: 'no answer' };
    for (const e of this.step({ type: 'failsafeAsk', now: this.mono(), holder: ask.holder, term: ask.term, durationMs: ask.durationMs })) {
      if (e.type === 'failsafeAnswer') answer = { status: e.ok ? 200 : 409, message: e.reason.text };
      else this.instant(e);
    }
    return answer;
  }

  /** What the health API serves. */
  status(): AgentStatus {
    const st = this.state;
    const s = st.status;
    const local = st.local;
    const leader = st.snapshot?.leader ?? null;
    const primary = local.running && local.inRecovery === false;
    const lsn = s === null ? null : s.inRecovery ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : s.currentLsn;
    return {
      name: this.name,
      scope: this.cluster.scope,
      namespace: this.cluster.namespace,
      role: local.empty ? 'uninitialized' : primary ? 'primary' : 'replica',
      pgState: st.demoting ? 'demoting' : st.phase,
      holdsLease: primary && !st.demoting && st.lease.term !== null && leader?.holder === this.name,
      demoting: st.demoting,
      timeline: s?.timeline ?? null,
      lsn,
      replayLsn: s?.replayedLsn ?? null,
      lagBytes: s?.inRecovery && leader !== null && lsn !== null ? Math.max(0, leader.lastLsn - lsn) : null,
      syncStandby: st.snapshot?.sync?.standbys.includes(this.name) ?? false,
      leader: st.snapshot === null ? null : leaderName(st.snapshot),
      term: leader?.term ?? null,
      paused: st.config.paused,
      systemId: s?.systemId ?? local.systemId,
      serverVersion: this.lastPg?.serverVersion ?? null,
      pendingRestart: this.lastPg?.pendingRestart ?? [],
      parameterProblems: this.parameters.problems.map((p) => p.message),
      scheduledRestart: this.operator.scheduled,
      tags: this.tags,
      lastLoopAt: this.lastLoopAt,
      loopWaitMs: st.config.loopWait * 1000,
      ttlMs: st.config.ttl * 1000,
      connUrl: this.connUrl,
      apiUrl: this.apiUrl,
      malformedItems: this.malformed.map(describeMalformed),
      failsafeActive: st.failsafeActive,
      failsafePromise: st.promise === null ? null : { holder: st.promise.holder, term: st.promise.term, leftMs: Math.max(0, st.promise.until - this.mono()) },
      storeErrors: this.storeErrors,
      storeReads: { ...this.reads },
    };
  }

  clusterView(): ClusterView {
    const snap = this.state.snapshot;
    const leader = snap === null ? null : currentLeader(snap);
    return {
      scope: this.cluster.scope,
      paused: this.state.config.paused,
      leader: leader?.holder ?? null,
      term: leader?.term ?? null,
      members: (snap?.members ?? []).map((m) => {
        const u = new URL(m.connUrl);
        return {
          name: m.name,
          role: leader?.holder === m.name ? ('leader' as const) : snap?.sync?.standbys.includes(m.name) ? ('sync_standby' as const) : ('replica' as const),
          state: m.state,
          host: u.hostname,
          port: Number(u.port || 5432),
          apiUrl: m.apiUrl,
          timeline: m.timeline,
          lagBytes: leader !== null && m.lsn !== null && leader.holder !== m.name ? Math.max(0, leader.lastLsn - m.lsn) : null,
          tags: m.tags,
        };
      }),
    };
  }

  get label(): string {
    return clusterLabel(this.cluster);
  }
}
