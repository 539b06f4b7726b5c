// What the arbiter asks its shell to do. The shell applies the actions in
// order, one conditional store write each, and stops at the first lost race;
// the next tick plans again from a fresh read.
import type { ArbiterState, HistoryStep } from '../dcs/items.js';
import type { Grant, LeaderVersion } from '../dcs/store.js';

/** Writes the arbiter item: lease and observations. Always first when present. */
export interface ObserveAction {
  readonly type: 'observe';
  readonly state: ArbiterState;
  readonly expectedVersion: number | null;
  readonly reason: string;
}

export interface GrantAction {
  readonly type: 'grant';
  readonly grant: Grant;
  readonly reason: string;
}

export interface BeginHandoverAction {
  readonly type: 'beginHandover';
  readonly expected: LeaderVersion;
  readonly candidate: string;
  readonly reason: string;
}

export interface MoveEndpointAction {
  readonly type: 'moveEndpoint';
  readonly member: string;
  readonly term: number;
  readonly reason: string;
}

export interface RecordHistoryStepAction {
  readonly type: 'recordHistoryStep';
  readonly term: number;
  readonly step: HistoryStep;
  readonly at: number;
  readonly reason: string;
}

export interface ClearFailoverAction {
  readonly type: 'clearFailover';
  readonly expectedVersion: number;
  readonly reason: string;
}

/** Why a decision did nothing, when the cause is one an operator must fix. */
export type NoneCode = 'held-malformed';

/** Nothing to do; never accompanies another action except `observe`. */
export interface NoneAction {
  readonly type: 'none';
  readonly reason: string;
  readonly code?: NoneCode;
}

export type ArbiterAction =
  | ObserveAction
  | GrantAction
  | BeginHandoverAction
  | MoveEndpointAction
  | RecordHistoryStepAction
  | ClearFailoverAction
  | NoneAction;

export type ArbiterActionType = ArbiterAction['type'];

/** Per-cluster gauges, plain numbers, published by the shell. */
export interface ClusterMetrics {
  /** 1 when a leader is active, handing over or demoted and its lease is live. */
  readonly leaderPresent: number;
  /** 0 with a leader; else arbiter time since the leader item's version was first seen. */
  readonly secondsWithoutLeader: number;
  /** Grants in this decision. */
  readonly failovers: number;
  /** Largest `leader.lastLsn - lsn` over running replicas. */
  readonly maxReplicationLagBytes: number;
  /** Members with a fresh heartbeat and PostgreSQL running. */
  readonly healthyMembers: number;
  /** 1 when the endpoint record names the leader's holder and term. */
  readonly endpointInSync: number;
  /** Items of the cluster's partition set aside as malformed. */
  readonly malformedItems: number;
  /** failsafe_mode: members that report a promise not to promote (their primary holds on without the store). */
  readonly failsafePromises: number;
  /** Store calls that failed, summed over the members' agents since each started (a counter: alarm on its growth). */
  readonly memberStoreErrors: number;
  /** Members whose pg_rewind failed every attempt and that wait for an operator. */
  readonly rewindFailedMembers: number;
  /** The largest WAL retention over the primary's replication slots, as members report it; absent when none does. */
  readonly slotRetainedBytes?: number;
}

export function none(reason: string, code?: NoneCode): NoneAction {
  return code === undefined ? { type: 'none', reason } : { type: 'none', reason, code };
}

export function clearFailover(expectedVersion: number, reason: string): ClearFailoverAction {
  return { type: 'clearFailover', expectedVersion, reason };
}
