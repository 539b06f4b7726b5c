// Carries out the slot plan (lib/ha/slots.ts) on the primary: lists its
// replication slots, creates the missing ones, drops the ones nobody will
// use again. Only the lease holder running as primary acts, at most once per
// loop_wait; every other node reports no retention. A replica that may
// promote keeps copies of the permanent slots, advanced to the positions the
// leader reports, so they are in place the moment it is promoted.
import type { ClusterConfig } from '../dcs/items.js';
import type { ClusterSnapshot } from '../dcs/store.js';
import { planPermanentCopies, planSlots, slotGraceMs } from '../ha/slots.js';
import { SlotInUseError } from '../postgres/errors.js';
import type { SlotInfo } from '../postgres/slots.js';

export interface SlotPg {
  listSlots(): Promise<SlotInfo[]>;
  createSlot(name: string): Promise<boolean>;
  dropSlot(name: string): Promise<boolean>;
  advanceSlot(name: string, lsn: number): Promise<void>;
}

export interface SlotLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface SlotSync {
  readonly snapshot: ClusterSnapshot | null;
  /** PostgreSQL runs and is not in recovery. */
  readonly primary: boolean;
  /** This node holds the leader lease. */
  readonly holder: boolean;
  /** PostgreSQL runs as a standby and this node is not tagged nofailover: it keeps permanent slot copies. */
  readonly mayPromote?: boolean;
  /** The standby's last replayed position. */
  readonly replayLsn?: number | null;
  readonly membersSeen: Readonly<Record<string, { readonly version: number; readonly at: number }>>;
  /** Monotonic ms. */
  readonly now: number;
}

export class SlotKeeper {
  #lastAt: number | null = null;
  #retained: number | null = null;
  #permanentLsns: Record<string, number> | null = null;
  /** Per slot name: the monotonic ms since which it has been listed without a break. */
  #listedSince: Record<string, number> = {};
  /** Per slot name: the reason codes already logged of it, each said once. */
  #said = new Map<string, Set<string>>();

  constructor(
    private readonly pg: SlotPg,
    private readonly self: string,
    private readonly log: SlotLog,
    private readonly config: () => Pick<ClusterConfig, 'ttl' | 'loopWait' | 'slotGracePeriod' | 'permanentSlots'>,
  ) {}

  /** The largest WAL retention of any slot on this primary at the last sync, bytes (0 for none); null when not synced as primary. */
  retainedBytes(): number | null {
    return this.#retained;
  }

  /** restart_lsn of each permanent slot on this primary at the last sync; null when not synced as primary. */
  permanentLsns(): Readonly<Record<string, number>> | null {
    return this.#permanentLsns;
  }

  async sync(o: SlotSync): Promise<void> {
    if (!o.primary) {
      this.#retained = null;
      this.#permanentLsns = null;
      this.#listedSince = {};
      if (o.mayPromote === true && o.snapshot !== null) await this.keepCopies(o);
      else this.#lastAt = null;
      return;
    }
    if (!o.holder || o.snapshot === null) return;
    const config = this.config();
    if (this.#lastAt !== null && o.now - this.#lastAt < config.loopWait * 1000) return;
    this.#lastAt = o.now;
    const slots = await this.pg.listSlots();
    const since: Record<string, number> = {};
    for (const s of slots) since[s.name] = this.#listedSince[s.name] ?? o.now;
    this.#listedSince = since;
    const members = [
      ...o.snapshot.members.map((m) => m.name),
      // A member whose item is malformed is still a member: its slot stays.
      ...o.snapshot.malformed.filter((m) => m.kind === 'member' && m.key.startsWith('member#')).map((m) => m.key.slice('member#'.length)),
    ];
    const plan = planSlots({
      slots,
      self: this.self,
      members,
      permanentSlots: config.permanentSlots ?? {},
      membersSeen: o.membersSeen,
      listedSince: this.#listedSince,
      now: o.now,
      graceMs: slotGraceMs(config),
    });
    const gone = new Set<string>();
    for (const name of plan.create) {
      try {
        if (await this.pg.createSlot(name)) this.log.info(`replication slot ${name} created`);
      } catch (err) {
        this.log.warn(`cannot create replication slot ${name}: ${(err as Error).message}`);
      }
    }
    for (const { name, reason } of plan.drop) {
      this.once(name, reason.code, () => this.log.info(`dropping replication slot ${name} (${reason.code}): ${reason.text}`));
      try {
        await this.pg.dropSlot(name);
        gone.add(name);
        delete this.#listedSince[name];
      } catch (err) {
        // A replica started streaming through it since the listing: it is in use again, so it stays.
        if (err instanceof SlotInUseError) this.log.warn(`replication slot ${name} kept: ${err.message}`);
        else this.log.warn(`cannot drop replication slot ${name}: ${(err as Error).message}`);
      }
    }
    for (const { name, reason } of plan.keep) {
      if (reason.code === 'foreign' || reason.code === 'active') this.once(name, reason.code, () => this.log.info(`replication slot ${name} kept (${reason.code}): ${reason.text}`));
    }
    // Forget what was said of slots that are gone, so that a slot made again is judged afresh.
    for (const name of [...this.#said.keys()]) if (!(name in this.#listedSince)) this.#said.delete(name);
    this.#retained = Math.max(0, ...slots.filter((s) => !gone.has(s.name)).map((s) => s.retainedBytes ?? 0));
    const permanent = config.permanentSlots ?? {};
    this.#permanentLsns = Object.fromEntries(slots.filter((s) => s.name in permanent && s.restartLsn !== null).map((s) => [s.name, s.restartLsn as number]));
  }

  private async keepCopies(o: SlotSync): Promise<void> {
    const config = this.config();
    const permanent = config.permanentSlots ?? {};
    if (Object.keys(permanent).length === 0) return;
    if (this.#lastAt !== null && o.now - this.#lastAt < config.loopWait * 1000) return;
    this.#lastAt = o.now;
    const leaderName = o.snapshot?.leader?.holder;
    const leader = o.snapshot?.members.find((m) => m.name === leaderName);
    const plan = planPermanentCopies({ slots: await this.pg.listSlots(), permanentSlots: permanent, leaderLsns: leader?.permanentSlotLsns ?? {}, replayLsn: o.replayLsn ?? null });
    for (const name of plan.create) {
      try {
        if (await this.pg.createSlot(name)) this.log.info(`permanent slot ${name} copied on this replica`);
      } catch (err) {
        this.log.warn(`cannot create the copy of permanent slot ${name}: ${(err as Error).message}`);
      }
    }
    for (const { name, to } of plan.advance) {
      try {
        await this.pg.advanceSlot(name, to);
      } catch (err) {
        this.log.warn(`cannot advance the copy of permanent slot ${name}: ${(err as Error).message}`);
      }
    }
  }

  private once(name: string, code: string, say: () => void): void {
    const codes = this.#said.get(name) ?? new Set<string>();
    if (codes.has(code)) return;
    codes.add(code);
    this.#said.set(name, codes);
    say();
  }
}
