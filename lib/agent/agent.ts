// The node agent: each loop reads the cluster and the local PostgreSQL,
// decides with lib/ha/agent.ts, acts, and heartbeats.
//
// Invariants:
// - The lease is counted from the SEND time of the last successful renew on
//   the monotonic clock. A fence timer, independent of the loop (which may be
//   stuck in a store call), stops PostgreSQL before ttl - safetyMargin.
// - /primary answers 503 from the moment any demotion starts.
// - In synchronous mode the sync item only ever names standbys that
//   PostgreSQL already waits for: PostgreSQL first when adding, the store
//   first when removing.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MEMBER_STATES, type ClusterConfig, type MemberItem, type MemberStatus } from '../dcs/items.js';
import { clusterLabel, type ClusterId } from '../dcs/keys.js';
import type { ClusterSnapshot, MalformedEntry, Store } from '../dcs/store.js';
import { describeMalformed, malformedOf } from '../dcs/snapshot.js';
import { decideAgent, type AgentAction, type LocalState } from '../ha/agent.js';
import type { PostgresNode, Upstream } from '../postgres/node.js';
import type { NodeStatus } from '../postgres/status.js';
import { bootstrapClusterConfig, splitHostPort, type AgentConfig } from './config.js';
import { readLocal } from './local.js';
import { isEmptyDir, writeStandbySignal } from '../postgres/data-dir.js';
import { runAsFor } from '../postgres/os-user.js';
import type { AgentStatus, ClusterView } from './status.js';
import type { Fence } from './fence-keeper.js';
import { bootstrapMarker, clearBootstrapMarker, hasBootstrapMarker, writeBootstrapMarker } from './bootstrap-marker.js';

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
}

const MEMBER_STATE_SET = new Set<string>(MEMBER_STATES);
function memberState(pgState: string): MemberStatus['state'] {
  if (pgState === 'uninitialized') return 'stopped';
  return MEMBER_STATE_SET.has(pgState) ? (pgState as MemberStatus['state']) : 'unknown';
}

export class AgentRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentRefusedError';
  }
}

export function slotName(member: string): string {
  return `pgfloat_${member.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/** This server's WAL position: written (primary) or received/replayed (standby). */
function walPosition(s: NodeStatus | null): number | null {
  if (s === null) return null;
  return s.inRecovery ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : s.currentLsn;
}

function upstreamOf(m: MemberItem, slot: string | null): Upstream {
  const u = new URL(m.connUrl);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 5432), slotName: slot };
}

export class Agent {
  readonly cluster: ClusterId;
  private readonly mono: () => number;
  private readonly wall: () => number;
  private readonly fastPollMs: number;
  private readonly safetyMarginMs: number;
  private snapshot: ClusterSnapshot | null = null;
  private config: ClusterConfig;
  private local: LocalState = { empty: true, systemId: null, running: false, inRecovery: null, following: null, wasPrimary: false };
  private pgStatus: NodeStatus | null = null;
  private lease: { term: number | null; lastRenewSentAt: number | null } = { term: null, lastRenewSentAt: null };
  private fenceTimer: NodeJS.Timeout | undefined;
  private demoting = false;
  private pgState = 'stopped';
  private lastLoopAt: number;
  private shuttingDown = false;
  private wake: (() => void) | undefined;
  private leaderSeen: { version: number; at: number } | null = null;
  private syncPending = false;
  private stuckSince: number | null = null;
  private seenTimeline: { started: number; timeline: number } | null = null;
  private stopped: Promise<void> | undefined;
  private malformedSeen = new Set<string>();
  private malformed: readonly MalformedEntry[] = [];

  constructor(
    readonly settings: AgentConfig,
    private readonly deps: AgentDeps,
  ) {
    this.cluster = { namespace: settings.namespace, scope: settings.scope };
    this.mono = deps.monotonic ?? (() => performance.now());
    this.wall = deps.wallClock ?? (() => Date.now());
    this.fastPollMs = deps.fastPollMs ?? 50;
    this.config = bootstrapClusterConfig(settings);
    this.safetyMarginMs = deps.safetyMarginMs ?? Math.min(2000, this.config.ttl * 200);
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
        const done = await this.iteration();
        const took = this.mono() - began;
        if (took > this.config.ttl * 1000) this.deps.log.warn(`a loop took ${(took / 1000).toFixed(1)} s (ttl ${this.config.ttl} s)`);
        this.lastLoopAt = this.mono();
        if (done) return;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.nextDelayMs());
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    } finally {
      this.clearFence();
    }
  }

  /** Fast while the cluster is in transition; loop_wait when all is settled. */
  private nextDelayMs(): number {
    const loopWaitMs = this.config.loopWait * 1000;
    const l = this.snapshot?.leader ?? null;
    if (this.snapshot === null || l === null || l.phase !== 'active' || this.demoting || this.syncPending) return Math.min(this.fastPollMs, loopWaitMs);
    if (l.holder !== this.name && this.leaderSeen !== null && this.mono() - this.leaderSeen.at > loopWaitMs * 1.5) {
      return Math.min(this.fastPollMs, loopWaitMs);
    }
    return loopWaitMs;
  }

  /** One loop; true when the agent should exit. */
  private async iteration(): Promise<boolean> {
    const timeoutMs = this.config.retryTimeout * 1000;
    try {
      this.snapshot = await this.deps.store.readCluster(this.cluster, { timeoutMs });
      if (this.snapshot.config !== null) this.config = this.snapshot.config.config;
      const l = this.snapshot.leader;
      if (l !== null && (this.leaderSeen === null || this.leaderSeen.version !== l.version)) this.leaderSeen = { version: l.version, at: this.mono() };
    } catch (err) {
      this.snapshot = null;
      this.deps.log.warn(`cannot read the cluster: ${(err as Error).message}`);
    }
    const reading = await readLocal(this.deps.pg, this.snapshot?.members ?? []);
    this.pgStatus = this.withStickyTimeline(reading.status);
    this.local = { ...reading.state, receiverStuckMs: this.receiverStuck(this.pgStatus) };
    this.pgState = reading.state.running ? 'running' : reading.state.empty ? 'uninitialized' : 'stopped';
    if (!this.local.running || this.local.inRecovery !== false) this.demoting = false;

    // A malformed leader item (or initialize item, for a node without data) is read as "the store cannot tell":
    // the lease clock runs and fences at its deadline, and nothing is bootstrapped, promoted or demoted on it.
    // Other malformed items are set aside: with data here, no rule acts on an initialize item that is not there.
    const blind = this.snapshot === null ? [] : malformedOf(this.snapshot, this.local.empty ? ['leader', 'initialize'] : ['leader']);
    this.reportMalformed(this.snapshot?.malformed ?? []);
    const decision = decideAgent({
      name: this.name,
      tags: this.tags,
      snapshot: blind.length > 0 ? null : this.snapshot,
      config: this.config,
      local: this.local,
      lease: { now: this.mono(), ...this.lease },
      shuttingDown: this.shuttingDown,
      safetyMarginMs: this.safetyMarginMs,
    });
    for (const action of decision.actions) {
      if (action.type !== 'wait' && action.type !== 'renew') this.deps.log.info(`${action.type}: ${action.reason}`, { situation: decision.situation });
      try {
        const go = await this.act(action);
        if (!go) break;
      } catch (err) {
        if (err instanceof AgentRefusedError) throw err;
        this.deps.log.error(`${action.type} failed: ${(err as Error).message}`, { situation: decision.situation });
        break;
      }
    }
    await this.disarmIfIdle();
    if (this.shuttingDown) {
      await this.heartbeat().catch(() => undefined);
      return true;
    }
    if (this.snapshot !== null) await this.heartbeat().catch((err: Error) => this.deps.log.warn(`heartbeat failed: ${err.message}`));
    return false;
  }

  /** Logs each malformed item once, when it appears. */
  private reportMalformed(entries: readonly MalformedEntry[]): void {
    const now = new Set(entries.map((e) => `${e.key}/${e.field}`));
    for (const e of entries) {
      if (!this.malformedSeen.has(`${e.key}/${e.field}`)) this.deps.log.warn(`store item ${describeMalformed(e)} is malformed and set aside: ${e.message}`);
    }
    this.malformedSeen = now;
    this.malformed = entries;
  }

  /** Applies one action; false stops the remaining actions of this loop. */
  private async act(a: AgentAction): Promise<boolean> {
    const { pg, store } = this.deps;
    const timeoutMs = this.config.retryTimeout * 1000;
    const snap = this.snapshot;
    switch (a.type) {
      case 'wait':
        return true;
      case 'refuse':
        throw new AgentRefusedError(a.reason);
      case 'bootstrap':
        return this.bootstrap();
      case 'clone': {
        const from = snap?.members.find((m) => m.name === a.from);
        if (from === undefined) return false;
        this.pgState = 'cloning';
        await pg.clone({ ...upstreamOf(from, slotName(this.name)), createSlot: true }, { expectedSystemId: snap?.initialize?.systemId, noSync: this.deps.noSync });
        this.pgState = 'starting';
        await pg.start();
        return true;
      }
      case 'startPrimary':
        this.pgState = 'starting';
        await pg.start();
        await this.refreshStatus();
        if (this.pgStatus?.inRecovery) await pg.promote();
        return true;
      case 'startStandby': {
        // A standby start: read-only whatever the data directory last was; it streams once a leader is known.
        await writeStandbySignal(pg.config.dataDir, await runAsFor(pg.config.osUser));
        this.pgState = 'starting';
        await pg.start();
        return true;
      }
      case 'takeFirstLease': {
        const status = await this.refreshStatus();
        const sent = this.mono();
        const r = await store.grantLeader(
          this.cluster,
          { holder: this.name, expected: null, previous: null, lastLsn: status?.currentLsn ?? 0, timeline: status?.timeline ?? 1, reason: `bootstrap by ${this.name}`, kind: 'bootstrap', grantedAt: this.wall() },
          { timeoutMs },
        );
        if (!r.ok) return false;
        await this.holdLease(r.item.term, sent);
        return true;
      }
      case 'promote': {
        // The lease first, by CAS on holder and term (a renew keeps a grant's phase): a grant that cannot be
        // taken so is void for this node. Replicas follow only once the grant is confirmed after promotion.
        const before = await this.refreshStatus();
        const w = { holder: this.name, term: a.term, lastLsn: walPosition(before) ?? snap?.leader?.lastLsn ?? 0, timeline: before?.timeline ?? snap?.leader?.timeline ?? 1 };
        const sent = this.mono();
        const r = await store.renewLeader(this.cluster, w, { timeoutMs });
        if (!r.ok) {
          this.deps.log.warn(`cannot take term ${a.term}: the lease is ${r.current === null ? 'gone' : `${r.current.holder}'s, term ${r.current.term}`}; not promoting`);
          return false;
        }
        // Then the fence keeper holds its deadline; only then may PostgreSQL take writes.
        if (!(await this.holdLease(a.term, sent))) return false;
        if (this.config.synchronousMode) {
          // No commit is acknowledged before a standby has it: from the first write on.
          await pg.setSynchronousStandbys({ method: 'first', count: 1, names: ['*'] });
          this.syncPending = true;
        }
        const result = await pg.promote();
        this.deps.log.info(`promoted in ${result.durationMs.toFixed(0)} ms`);
        if (a.via === 'confirm') {
          const after = await this.refreshStatus();
          const confirmSent = this.mono();
          const c = await store.confirmLeader(this.cluster, { ...w, lastLsn: walPosition(after) ?? w.lastLsn, timeline: after?.timeline ?? w.timeline }, { timeoutMs });
          if (c.ok) await this.holdLease(a.term, confirmSent);
          else this.deps.log.warn(`the confirm of term ${a.term} lost the race: the next loop re-plans`);
        }
        await this.createReplicaSlots();
        return true;
      }
      case 'confirm': {
        const status = await this.refreshStatus();
        const sent = this.mono();
        const r = await store.confirmLeader(this.cluster, { holder: this.name, term: a.term, lastLsn: status?.currentLsn ?? 0, timeline: status?.timeline ?? 1 }, { timeoutMs });
        if (!r.ok) return false;
        await this.holdLease(a.term, sent);
        await this.createReplicaSlots();
        return true;
      }
      case 'renew': {
        const status = this.local.running ? await this.refreshStatus() : null;
        const lastLsn = status?.currentLsn ?? snap?.leader?.lastLsn ?? 0;
        const sent = this.mono();
        const r = await store.renewLeader(this.cluster, { holder: this.name, term: a.term, lastLsn, timeline: status?.timeline ?? snap?.leader?.timeline ?? 1 }, { timeoutMs });
        if (!r.ok) {
          this.deps.log.warn(`lease lost (term ${a.term}): demoting at once`);
          await this.demote('immediate');
          return false;
        }
        await this.holdLease(a.term, sent);
        if (this.config.synchronousMode || snap?.sync?.leader === this.name) await this.manageSync(a.term);
        return true;
      }
      case 'handover': {
        // A fresh lease first: the handover runs inside it, never past it. Counted from the send time.
        const sent = this.mono();
        const renewed = await store.renewLeader(this.cluster, { holder: this.name, term: a.term, lastLsn: walPosition(this.pgStatus) ?? snap?.leader?.lastLsn ?? 0, timeline: this.pgStatus?.timeline ?? snap?.leader?.timeline ?? 1 }, { timeoutMs });
        if (!renewed.ok) {
          this.deps.log.warn(`lease lost (term ${a.term}) as the handover began: demoting at once`);
          await this.demote('immediate');
          return false;
        }
        await this.holdLease(a.term, sent);
        // A checkpoint while still serving leaves the shutdown checkpoint little to write: a shorter write gap.
        await pg.checkpoint().catch((err: Error) => this.deps.log.warn(`checkpoint before handing over failed: ${err.message}`));
        this.demoting = true;
        this.pgState = 'demoting';
        await pg.stop('fast');
        const control = await pg.controldata();
        // Only a clean shutdown's checkpoint is the end of WAL: anything else must not be reported as the final LSN.
        if (control.clusterState !== 'shut down') {
          this.deps.log.warn(`PostgreSQL did not shut down cleanly (${control.clusterState}): no final LSN to report; the arbiter will judge the lease`);
          return false;
        }
        const r = await store.completeHandover(this.cluster, { holder: this.name, term: a.term, finalLsn: control.checkpointLsn }, { timeoutMs });
        return r.ok;
      }
      case 'demote':
        await this.demote(a.mode);
        return true;
      case 'follow': {
        const leader = snap?.members.find((m) => m.name === a.leader);
        if (leader === undefined) return false;
        // A follower holds no lease: no fence timer may stop it later.
        this.clearFence();
        this.lease = { term: null, lastRenewSentAt: null };
        const upstream = upstreamOf(leader, slotName(this.name));
        if (this.local.running && this.local.inRecovery && !a.rewind) {
          await pg.follow(upstream, { expectedSystemId: snap?.initialize?.systemId });
          return true;
        }
        if (this.local.running) await this.demote('fast');
        if (a.rewind) {
          this.pgState = 'rewinding';
          const r = await pg.rewind(upstream, { noSync: this.deps.noSync });
          this.deps.log.info(`pg_rewind ${r.rewound ? 'rewound' : 'found nothing to rewind'} in ${r.durationMs.toFixed(0)} ms`);
        } else {
          await pg.follow(upstream, { expectedSystemId: snap?.initialize?.systemId });
        }
        this.pgState = 'starting';
        await pg.start();
        return true;
      }
      case 'release': {
        const r = await store.releaseLeader(this.cluster, { holder: this.name, term: a.term, lastLsn: snap?.leader?.lastLsn ?? 0 }, { timeoutMs });
        this.clearFence();
        this.lease = { term: null, lastRenewSentAt: null };
        return r.ok;
      }
      case 'stop':
        this.pgState = 'stopping';
        await pg.stop('fast');
        return true;
    }
  }

  /** Wins (or resumes) the initialize race, then initdb, records the system identifier, starts the new primary. */
  private async bootstrap(): Promise<boolean> {
    const { pg, store } = this.deps;
    const timeoutMs = this.config.retryTimeout * 1000;
    // Emptying a data directory needs this node's own evidence: the marker its own earlier bootstrap left.
    const dataDir = pg.config.dataDir;
    if (!(await isEmptyDir(dataDir))) {
      if (!(await hasBootstrapMarker(dataDir))) {
        this.deps.log.error(`bootstrap needs an empty ${dataDir}, but it holds files that no bootstrap of this node left (no ${bootstrapMarker(dataDir)}): leaving them untouched; move them away to bootstrap here`);
        return false;
      }
      if (await pg.isRunning()) {
        this.deps.log.error(`a postmaster runs in ${dataDir}: not emptying it`);
        return false;
      }
    }
    const init = this.snapshot?.initialize ?? null;
    let version: number;
    if (init === null) {
      const r = await store.initialize(this.cluster, { initializedBy: this.name }, null, { timeoutMs });
      if (!r.ok) {
        this.deps.log.info(`${r.current?.initializedBy} won the initialize race: will clone`);
        return false;
      }
      version = r.item.version;
    } else if (init.initializedBy === this.name && init.systemId === undefined) {
      version = init.version;
    } else {
      return false;
    }
    this.pgState = 'initializing';
    this.deps.log.info(`won the initialize race: initdb`);
    await writeBootstrapMarker(dataDir, await runAsFor(pg.config.osUser));
    if (!(await isEmptyDir(dataDir))) await this.wipeDataDir();
    await pg.initdb({ noSync: this.deps.noSync });
    const control = await pg.controldata();
    const recorded = await store.initialize(this.cluster, { initializedBy: this.name, systemId: control.systemId }, version, { timeoutMs });
    if (!recorded.ok) return false;
    await clearBootstrapMarker(dataDir);
    if (this.snapshot?.config === null || this.snapshot?.config === undefined) {
      await store.putConfig(this.cluster, this.config, null, { timeoutMs });
    }
    this.pgState = 'starting';
    await pg.start();
    await pg.ensureReplicationRole();
    return true;
  }

  private async wipeDataDir(): Promise<void> {
    const dir = this.deps.pg.config.dataDir;
    const { readdir } = await import('node:fs/promises');
    for (const entry of await readdir(dir)) await rm(join(dir, entry), { recursive: true, force: true });
  }

  /** How long the WAL receiver has not streamed while this replica's timeline is behind the leader's. */
  private receiverStuck(status: NodeStatus | null): number {
    const leader = this.snapshot?.leader ?? null;
    const behind = status !== null && status.inRecovery && leader !== null && status.timeline < leader.timeline && status.walReceiver?.status !== 'streaming';
    if (!behind) {
      this.stuckSince = null;
      return 0;
    }
    this.stuckSince ??= this.mono();
    return this.mono() - this.stuckSince;
  }

  private async refreshStatus(): Promise<NodeStatus | null> {
    try {
      this.pgStatus = this.withStickyTimeline(await this.deps.pg.status());
    } catch {
      this.pgStatus = null;
    }
    return this.pgStatus;
  }

  /**
   * A running server's timeline never goes back. A replica whose WAL receiver
   * stopped (its primary stopped for a switchover) reports only its control
   * file's timeline, which may be older than the one it replays: keep the
   * highest seen since this postmaster started.
   */
  private withStickyTimeline(status: NodeStatus | null): NodeStatus | null {
    if (status === null) return null;
    const started = status.postmasterStartedAt.getTime();
    if (this.seenTimeline === null || this.seenTimeline.started !== started) this.seenTimeline = { started, timeline: status.timeline };
    this.seenTimeline.timeline = Math.max(this.seenTimeline.timeline, status.timeline);
    return { ...status, timeline: this.seenTimeline.timeline };
  }

  private async createReplicaSlots(): Promise<void> {
    for (const m of this.snapshot?.members ?? []) {
      if (m.name !== this.name) await this.deps.pg.createSlot(slotName(m.name)).catch(() => undefined);
    }
  }

  /** Stops taking writes: 503 on /primary first, then PostgreSQL stops. */
  private async demote(mode: 'fast' | 'immediate'): Promise<void> {
    this.demoting = true;
    this.pgState = 'demoting';
    this.lease = { term: null, lastRenewSentAt: null };
    await this.deps.pg.stop(mode);
    // The fence keeper keeps its deadline until a later loop sees PostgreSQL not writable.
    this.clearFence();
    this.pgState = 'stopped';
  }

  /**
   * Holds the lease counted from `sentAt`: the in-process timer, and the fence
   * keeper (outside this process) armed with the same deadline. False when a
   * configured keeper did not acknowledge it: then nothing may be promoted.
   */
  private async holdLease(term: number, sentAt: number): Promise<boolean> {
    this.lease = { term, lastRenewSentAt: sentAt };
    this.demoting = false;
    this.clearFence();
    const deadline = sentAt + this.config.ttl * 1000 - this.safetyMarginMs;
    this.fenceTimer = setTimeout(() => void this.fence(term, sentAt), Math.max(0, deadline - this.mono()));
    this.fenceTimer.unref?.();
    if (this.deps.fence === undefined) return true;
    try {
      await this.deps.fence.arm(deadline);
      return true;
    } catch (err) {
      this.deps.log.error(`${(err as Error).message}: the lease of term ${term} is held by this process alone`);
      return false;
    }
  }

  /** The keeper is disarmed only once no lease is held and PostgreSQL is seen not writable. */
  private async disarmIfIdle(): Promise<void> {
    const fence = this.deps.fence;
    if (fence === undefined || !fence.isArmed || this.lease.term !== null) return;
    const notWritable = !(await this.deps.pg.isRunning()) || (this.local.running && this.local.inRecovery === true);
    if (!notWritable) return;
    await fence.disarm().catch((err: Error) => this.deps.log.warn(err.message));
  }

  private clearFence(): void {
    if (this.fenceTimer !== undefined) clearTimeout(this.fenceTimer);
    this.fenceTimer = undefined;
  }

  private async fence(term: number, sentAt: number): Promise<void> {
    if (this.lease.term !== term || this.lease.lastRenewSentAt !== sentAt) return;
    // A standby takes no writes: nothing to fence.
    if (existsSync(join(this.deps.pg.config.dataDir, 'standby.signal'))) return;
    this.deps.log.warn(`fencing: no successful renew of term ${term} for ${((this.mono() - sentAt) / 1000).toFixed(1)} s; stopping PostgreSQL`);
    await this.demote('immediate').catch((err: Error) => this.deps.log.error(`fencing failed: ${err.message}`));
  }

  /**
   * Keeps synchronous_standby_names and the sync item consistent: the
   * streaming, non-nosync replicas chosen (up to synchronousNodeCount), added
   * to PostgreSQL before the store, removed from the store before PostgreSQL.
   */
  private async manageSync(term: number): Promise<void> {
    const { pg, store } = this.deps;
    const snap = this.snapshot;
    if (snap === null) return;
    const timeoutMs = this.config.retryTimeout * 1000;
    const current = snap.sync?.leader === this.name && snap.sync.term === term ? snap.sync.standbys : [];
    let wanted: string[] = [];
    if (this.config.synchronousMode) {
      const rows = await pg.replication();
      // Only members may be synchronous: a pg_basebackup or any other client streaming WAL is not one.
      const candidates = new Set(snap.members.filter((m) => m.name !== this.name && !m.tags.nosync).map((m) => m.name));
      const streaming = rows.filter((r) => r.state === 'streaming' && candidates.has(r.applicationName)).map((r) => r.applicationName);
      const keep = current.filter((n) => streaming.includes(n));
      wanted = [...keep, ...streaming.filter((n) => !keep.includes(n))].slice(0, this.config.synchronousNodeCount);
    }
    const same = wanted.length === current.length && wanted.every((n) => current.includes(n));
    const syncVersion = snap.sync?.version ?? null;
    if (!same) {
      const removing = current.filter((n) => !wanted.includes(n));
      if (removing.length > 0) {
        // Store first: a standby leaves the eligible set before PostgreSQL stops waiting for it.
        const kept = current.filter((n) => wanted.includes(n));
        const r = await store.putSync(this.cluster, { leader: this.name, term, standbys: kept }, syncVersion, { timeoutMs });
        if (!r.ok) return;
        await pg.setSynchronousStandbys(kept.length > 0 || this.config.synchronousModeStrict ? { method: 'first', count: Math.max(1, kept.length), names: kept.length > 0 ? kept : ['*'] } : null);
        this.syncPending = true;
        return;
      }
      // PostgreSQL first: a standby is waited for before it is listed as eligible.
      await pg.setSynchronousStandbys(wanted.length > 0 ? { method: 'first', count: wanted.length, names: wanted } : this.config.synchronousModeStrict ? { method: 'first', count: 1, names: ['*'] } : null);
      const r = await store.putSync(this.cluster, { leader: this.name, term, standbys: wanted }, syncVersion, { timeoutMs });
      this.syncPending = !r.ok;
      return;
    }
    if (snap.sync?.leader !== this.name || snap.sync.term !== term) {
      await store.putSync(this.cluster, { leader: this.name, term, standbys: wanted }, syncVersion, { timeoutMs });
    }
    this.syncPending = this.config.synchronousMode && wanted.length === 0;
  }

  private async heartbeat(): Promise<void> {
    const snap = this.snapshot;
    const mine = snap?.members.find((m) => m.name === this.name) ?? null;
    const s = this.pgStatus;
    const role: MemberStatus['role'] = this.local.empty ? 'uninitialized' : this.local.running && this.local.inRecovery === false ? 'primary' : 'replica';
    const lsn = s === null ? null : s.inRecovery ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : s.currentLsn;
    const status: MemberStatus = {
      name: this.name,
      role,
      state: memberState(this.pgState),
      timeline: s?.timeline ?? 0,
      lsn,
      replayLsn: s?.inRecovery ? (s.replayedLsn ?? null) : null,
      tags: this.tags,
      connUrl: this.connUrl,
      apiUrl: this.apiUrl,
      systemId: s?.systemId ?? this.local.systemId,
      ...(this.settings.aws.instance_id !== undefined ? { instanceId: this.settings.aws.instance_id } : {}),
      ...(this.settings.aws.network_interface_id !== undefined ? { networkInterfaceId: this.settings.aws.network_interface_id } : {}),
      ...(this.settings.aws.private_ip !== undefined ? { privateIp: this.settings.aws.private_ip } : {}),
      heartbeatAt: this.wall(),
    };
    // Its own item malformed: this member rewrites it, by the version it was stored with.
    const own = snap?.malformed.find((e) => e.kind === 'member' && e.key === `member#${this.name}`);
    const expected = mine?.version ?? own?.version ?? null;
    const r = await this.deps.store.heartbeat(this.cluster, status, expected, { timeoutMs: this.config.retryTimeout * 1000 });
    if (!r.ok && r.current !== null && r.current.connUrl !== status.connUrl) {
      this.deps.log.warn(`another member with this name heartbeats from ${r.current.connUrl}`);
    }
  }

  /** What the health API serves. */
  status(): AgentStatus {
    const s = this.pgStatus;
    const leader = this.snapshot?.leader ?? null;
    const primary = this.local.running && this.local.inRecovery === false;
    const lsn = s === null ? null : s.inRecovery ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : s.currentLsn;
    return {
      name: this.name,
      scope: this.cluster.scope,
      namespace: this.cluster.namespace,
      role: this.local.empty ? 'uninitialized' : primary ? 'primary' : 'replica',
      pgState: this.demoting ? 'demoting' : this.pgState,
      holdsLease: primary && !this.demoting && this.lease.term !== null && leader?.holder === this.name,
      demoting: this.demoting,
      timeline: s?.timeline ?? null,
      lsn,
      replayLsn: s?.replayedLsn ?? null,
      lagBytes: s?.inRecovery && leader !== null && lsn !== null ? Math.max(0, leader.lastLsn - lsn) : null,
      syncStandby: this.snapshot?.sync?.standbys.includes(this.name) ?? false,
      leader: leader?.phase === 'released' ? null : (leader?.holder ?? null),
      term: leader?.term ?? null,
      paused: this.config.paused,
      systemId: s?.systemId ?? this.local.systemId,
      serverVersion: 150000,
      tags: this.tags,
      lastLoopAt: this.lastLoopAt,
      loopWaitMs: this.config.loopWait * 1000,
      ttlMs: this.config.ttl * 1000,
      connUrl: this.connUrl,
      apiUrl: this.apiUrl,
      malformedItems: this.malformed.map(describeMalformed),
    };
  }

  clusterView(): ClusterView {
    const snap = this.snapshot;
    const leader = snap?.leader ?? null;
    return {
      scope: this.cluster.scope,
      paused: this.config.paused,
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
