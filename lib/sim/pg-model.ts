// A model of one node's PostgreSQL: WAL as a list of records (each a client
// write, by id), timelines with their fork points, standby.signal, streaming
// from an upstream, synchronous_standby_names and the commits waiting on it,
// promote, rewind, clone, clean and crash shutdowns. Durable state (the data
// directory) survives a crash of the postmaster or of the node.
import type { SyncSpec } from '../ha/agent-sync.js';

export interface WalRecord {
  readonly id: number;
  /** End position of the record: cumulative bytes. */
  readonly lsn: number;
  readonly timeline: number;
}

export interface Waiter {
  readonly id: number;
  readonly lsn: number;
  readonly ack: () => void;
}

export class PgModel {
  hasFiles = false;
  marker = false;
  systemId: string | null = null;
  wal: WalRecord[] = [];
  timeline = 1;
  running = false;
  inRecovery = false;
  standbySignal = false;
  cleanShutdown = true;
  /** Control file: the server last ran as a primary. */
  wasPrimary = false;
  upstream: string | null = null;
  sync: SyncSpec | null = null;
  startedAt = 0;
  /** Commits written locally, waiting for a synchronous standby. */
  waiting: Waiter[] = [];
  /** This standby's receiver streams from its upstream now. */
  streaming = false;
  /** Set when a data directory with files was emptied without this node's bootstrap marker. */
  wipedWithoutEvidence = false;

  constructor(readonly name: string) {}

  get lsn(): number {
    return this.wal.at(-1)?.lsn ?? 0;
  }

  get writable(): boolean {
    return this.running && !this.inRecovery;
  }

  get empty(): boolean {
    return !this.hasFiles || this.systemId === null;
  }

  /** The postmaster stops; commits still waiting are never acknowledged (they stay in the local WAL). */
  stop(clean: boolean): void {
    if (!this.running) return;
    this.cleanShutdown = clean;
    this.wasPrimary = !this.inRecovery;
    this.running = false;
    this.streaming = false;
    this.waiting = [];
  }

  start(now: number): void {
    if (this.running || this.empty) return;
    this.running = true;
    this.inRecovery = this.standbySignal;
    this.startedAt = now;
    this.cleanShutdown = false;
    if (!this.inRecovery) this.wasPrimary = true;
  }

  promote(): void {
    if (!this.running || !this.inRecovery) return;
    this.timeline = Math.max(this.timeline, this.wal.at(-1)?.timeline ?? 1) + 1;
    this.inRecovery = false;
    this.standbySignal = false;
    this.streaming = false;
    this.wasPrimary = true;
  }

  /** A client write; the caller decides when it is acknowledged. */
  append(id: number, bytes: number): WalRecord {
    const rec = { id, lsn: this.lsn + bytes, timeline: this.timeline };
    this.wal.push(rec);
    return rec;
  }

  /** True when this node's WAL is a prefix of `up`'s: it can stream from it. */
  canFollow(up: PgModel): boolean {
    const n = this.wal.length;
    if (n === 0) return true;
    if (up.wal.length < n) return false;
    return up.wal[n - 1]?.id === this.wal[n - 1]?.id;
  }

  copyFrom(up: PgModel): void {
    this.wal = up.wal.slice();
    this.timeline = up.timeline;
    this.systemId = up.systemId;
    this.hasFiles = true;
  }

  /** Standbys whose acknowledgement releases a commit, or null when commits do not wait. */
  syncSpec(): SyncSpec | null {
    return this.writable ? this.sync : null;
  }
}
