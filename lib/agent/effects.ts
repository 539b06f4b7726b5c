// Carries out the agent step machine's call effects against the real store,
// PostgreSQL and fence keeper, and turns each answer into the outcome the
// machine hears next. No decision is made here: an error is an outcome.
import type { MemberItem, MemberStatus } from '../dcs/items.js';
import type { ClusterId } from '../dcs/keys.js';
import type { Store, WriteResult } from '../dcs/store.js';
import type { CallEffect, Outcome, PgOp, PgReading, StoreOp, UpstreamRef } from '../ha/agent-step.js';
import type { PostgresNode, Upstream } from '../postgres/node.js';
import type { NodeStatus } from '../postgres/status.js';
import { emptyDir, isEmptyDir, writeStandbySignal } from '../postgres/data-dir.js';
import { runAsFor } from '../postgres/os-user.js';
import { clearBootstrapMarker, writeBootstrapMarker } from './bootstrap-marker.js';
import { slotName } from '../ha/slots.js';
import type { Fence } from './fence-keeper.js';
import type { FailsafeAnswer, FailsafeCall } from './failsafe-client.js';

export interface EffectDeps {
  readonly store: Store;
  readonly pg: PostgresNode;
  readonly fence?: Fence;
  readonly noSync?: boolean;
  readonly cluster: ClusterId;
  readonly timeoutMs: () => number;
  readonly wallClock: () => number;
  /** The member item fields that are this node's identity, not its state. */
  readonly identity: () => Omit<MemberStatus, 'role' | 'state' | 'timeline' | 'lsn' | 'replayLsn' | 'systemId' | 'heartbeatAt'>;
  /** failsafe_mode: calls the members' agent APIs; without it every member is unreachable. */
  readonly failsafe?: (call: FailsafeCall) => Promise<Record<string, FailsafeAnswer>>;
  /** Counts a store call that failed (unreachable, timed out). */
  readonly storeError?: () => void;
  /** Runs a hook script to its end (callbacks.ts); without it every hook answers ok at once. */
  readonly hook?: (name: Extract<CallEffect, { type: 'hook' }>['name']) => Promise<{ ok: boolean; message: string }>;
  /** Hears every PostgreSQL operation's outcome once it ended (the callbacks fire from it); it must not throw nor block. */
  readonly onPgDone?: (op: PgOp, outcome: Outcome) => void;
}

export { slotName };

export function toReading(s: NodeStatus | null): PgReading | null {
  if (s === null) return null;
  return {
    inRecovery: s.inRecovery,
    timeline: s.timeline,
    currentLsn: s.currentLsn,
    receivedLsn: s.receivedLsn,
    replayedLsn: s.replayedLsn,
    systemId: s.systemId,
    postmasterStartedAt: s.postmasterStartedAt.getTime(),
    receiverStreaming: s.walReceiver?.status === 'streaming',
  };
}

function upstreamOf(m: UpstreamRef | MemberItem, slot: string | null): Upstream {
  const u = new URL(m.connUrl);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 5432), slotName: slot };
}

export function written(r: WriteResult<unknown, unknown>): Outcome {
  return r.ok ? { kind: 'written', item: (r.item ?? { version: 0 }) as { version: number; term?: number } } : { kind: 'lost', current: (r.current ?? null) as { [k: string]: unknown } | null };
}

async function storeCall(deps: EffectDeps, e: Extract<CallEffect, { type: 'store' | 'heartbeat' }>): Promise<Outcome> {
  try {
    if (e.type === 'store') return await storeOutcome(deps.store, deps.cluster, deps.timeoutMs(), deps.wallClock, e.op);
    const status: MemberStatus = { ...deps.identity(), ...e.fields, heartbeatAt: deps.wallClock() };
    return written(await deps.store.heartbeat(deps.cluster, status, e.expectedVersion, { timeoutMs: deps.timeoutMs() }));
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
}

export async function execute(deps: EffectDeps, e: CallEffect): Promise<Outcome> {
  try {
    switch (e.type) {
      case 'readStatus':
        try {
          return { kind: 'status', status: toReading(await deps.pg.status()) };
        } catch {
          return { kind: 'status', status: null };
        }
      case 'store':
      case 'heartbeat': {
        const o = await storeCall(deps, e);
        if (o.kind === 'error') deps.storeError?.();
        return o;
      }
      case 'failsafe': {
        const answers = deps.failsafe === undefined ? Object.fromEntries(e.targets.map((t) => [t.name, 'unreachable' as const])) : await deps.failsafe(e);
        return { kind: 'failsafe', answers };
      }
      case 'pg': {
        const o = await pgCall(deps, e.op).catch((err: Error): Outcome => ({ kind: 'error', message: err.message }));
        try {
          deps.onPgDone?.(e.op, o);
        } catch {
          // A listener's failure is not the operation's.
        }
        return o;
      }
      case 'hook':
        return deps.hook === undefined ? { kind: 'hook', ok: true, message: 'no script' } : { kind: 'hook', ...(await deps.hook(e.name)) };
      case 'keeper':
        if (deps.fence === undefined) return { kind: 'ok' };
        if (e.op === 'arm') await deps.fence.arm(e.deadline);
        else await deps.fence.disarm();
        return { kind: 'ok' };
    }
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
}

/** One store write of the step machine, its answer as the outcome the machine hears. Errors are thrown. */
export async function storeOutcome(store: Store, c: ClusterId, timeoutMs: number, wallClock: () => number, op: StoreOp): Promise<Outcome> {
  const o = { timeoutMs };
  switch (op.op) {
    case 'grantFirst':
      return written(await store.grantLeader(c, { ...op.grant, grantedAt: wallClock() }, o));
    case 'renew':
      return written(await store.renewLeader(c, op.w, o));
    case 'confirm':
      return written(await store.confirmLeader(c, op.w, o));
    case 'completeHandover':
      return written(await store.completeHandover(c, op.w, o));
    case 'release':
      return written(await store.releaseLeader(c, op.w, o));
    case 'putSync':
      return written(await store.putSync(c, op.state, op.expectedVersion, o));
    case 'initialize':
      return written(await store.initialize(c, op.init, op.expectedVersion, o));
    case 'putConfig':
      return written(await store.putConfig(c, op.config, null, o));
  }
}

async function pgCall(deps: EffectDeps, op: PgOp): Promise<Outcome> {
  const { pg } = deps;
  const dataDir = pg.config.dataDir;
  switch (op.op) {
    case 'start':
      await pg.start();
      return { kind: 'ok' };
    case 'startStandby':
      await writeStandbySignal(dataDir, await runAsFor(pg.config.osUser));
      await pg.start();
      return { kind: 'ok' };
    case 'promote':
      return { kind: 'promoted', durationMs: (await pg.promote()).durationMs };
    case 'stop':
      await pg.stop(op.mode);
      return { kind: 'ok' };
    case 'restart':
      await pg.restart('fast');
      return { kind: 'ok' };
    case 'reinit':
      await pg.reinit({ ...upstreamOf(op.from, slotName(deps.identity().name)), createSlot: true }, { expectedSystemId: op.expectedSystemId, noSync: deps.noSync });
      return { kind: 'ok' };
    case 'checkpoint':
      await pg.checkpoint();
      return { kind: 'ok' };
    case 'controldata': {
      const c = await pg.controldata();
      return { kind: 'control', clusterState: c.clusterState, checkpointLsn: c.checkpointLsn, systemId: c.systemId };
    }
    case 'clone':
      await pg.clone({ ...upstreamOf(op.from, slotName(deps.identity().name)), createSlot: true }, { expectedSystemId: op.expectedSystemId, noSync: deps.noSync });
      return { kind: 'ok' };
    case 'rewind': {
      const r = await pg.rewind(upstreamOf(op.from, slotName(deps.identity().name)), { noSync: deps.noSync });
      return { kind: 'rewound', rewound: r.rewound, durationMs: r.durationMs };
    }
    case 'follow':
      await pg.follow(upstreamOf(op.from, slotName(deps.identity().name)), { expectedSystemId: op.expectedSystemId });
      return { kind: 'ok' };
    case 'setSync':
      await pg.setSynchronousStandbys(op.spec === null ? null : { method: op.spec.method, count: op.spec.count, names: [...op.spec.names] });
      return { kind: 'ok' };
    case 'replication':
      return { kind: 'replication', rows: (await pg.replication()).map((r) => ({ applicationName: r.applicationName, state: r.state })) };
    case 'createSlots':
      for (const m of op.members) await pg.createSlot(slotName(m)).catch(() => undefined);
      return { kind: 'ok' };
    case 'isRunning':
      return { kind: 'running', running: await pg.isRunning() };
    case 'prepareBootstrap':
      await writeBootstrapMarker(dataDir, await runAsFor(pg.config.osUser));
      if (op.wipe && !(await isEmptyDir(dataDir))) await emptyDir(dataDir);
      return { kind: 'ok' };
    case 'initdb':
      await pg.initdb({ noSync: deps.noSync });
      return { kind: 'ok' };
    case 'clearBootstrapMarker':
      await clearBootstrapMarker(dataDir);
      return { kind: 'ok' };
    case 'ensureReplicationRole':
      await pg.ensureReplicationRole();
      return { kind: 'ok' };
  }
}
