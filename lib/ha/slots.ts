// The primary's physical replication slots: which to create and which to
// drop. A slot retains WAL for as long as it exists, whether anybody streams
// through it or not, so a slot nobody will use again must go; a slot a
// member may still come back to must stay. Never dropped: an active slot (a
// walsender streams through it) and a slot pgfloat's naming did not make.
import type { ClusterConfig } from '../dcs/items.js';

/** The prefix of every slot name slotName gives a member: slots without it are not pgfloat's. */
export const SLOT_PREFIX = 'pgfloat_';

/** The physical slot a member streams through on the primary: a valid, 63-byte slot name. */
export function slotName(member: string): string {
  return `${SLOT_PREFIX}${member.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

export interface SlotReason {
  readonly code: SlotReasonCode;
  readonly text: string;
}

export type SlotReasonCode =
  /** Kept: the slot of a current member heard from within the grace period (or not yet judged). */
  | 'member'
  /** Kept: named in permanent_slots. */
  | 'permanent'
  /** Kept: would be dropped, but a walsender streams through it. */
  | 'active'
  /** Kept: not made by pgfloat (another name, or not physical). */
  | 'foreign'
  /** Kept: no member owns it, but this keeper has listed it for less than the grace period. */
  | 'unowned-recent'
  /** Dropped: no member owns it and it is no permanent slot. */
  | 'no-member'
  /** Dropped: its member's heartbeat has not changed for longer than the grace period. */
  | 'member-silent'
  /** Dropped: the primary's own slot, which nobody streams through while it is primary. */
  | 'own-slot';

export interface ExistingSlot {
  readonly name: string;
  /** pg_replication_slots.slot_type: physical or logical. */
  readonly type: string;
  readonly active: boolean;
  /** WAL the slot holds back: pg_current_wal_lsn() - restart_lsn; null when it reserves none. */
  readonly retainedBytes: number | null;
  readonly restartLsn?: number | null;
}

export interface SlotPlanInput {
  /** The primary's slots, as listed. */
  readonly slots: readonly ExistingSlot[];
  /** The primary's own member name. */
  readonly self: string;
  /** The cluster's members (their items, malformed ones included). */
  readonly members: readonly string[];
  readonly permanentSlots: Readonly<Record<string, { readonly type: 'physical' }>>;
  /** Per member: the monotonic ms its heartbeat was last seen at a new version. */
  readonly membersSeen: Readonly<Record<string, { readonly at: number }>>;
  /** Per slot name: the monotonic ms since which the keeper has listed it without a break. */
  readonly listedSince: Readonly<Record<string, number>>;
  readonly now: number;
  readonly graceMs: number;
}

export interface SlotPlan {
  /** Slots to create (physical, reserving WAL now), by name. */
  readonly create: string[];
  readonly drop: { readonly name: string; readonly reason: SlotReason }[];
  /** Every listed slot not dropped, with why. */
  readonly keep: { readonly name: string; readonly reason: SlotReason }[];
}

/**
 * slot_grace_period in ms: the config's, or max(30 min, 10 * ttl); never
 * under 2 * ttl, so a member that missed a heartbeat or two keeps its slot.
 */
export function slotGraceMs(config: Pick<ClusterConfig, 'ttl' | 'slotGracePeriod'>): number {
  return Math.max(config.slotGracePeriod ?? Math.max(30 * 60, 10 * config.ttl), 2 * config.ttl) * 1000;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const held = (s: ExistingSlot): string => (s.retainedBytes === null ? 'retains no WAL' : `retains ${s.retainedBytes} bytes of WAL`);

export function planSlots(input: SlotPlanInput): SlotPlan {
  const { now, graceMs } = input;
  const grace = secs(graceMs);
  const permanent = new Set(Object.keys(input.permanentSlots));
  // A member's slot, or the member whose heartbeat went silent: null when it is to be kept.
  const owners = new Map<string, string>();
  for (const m of input.members) if (m !== input.self) owners.set(slotName(m), m);
  const existing = new Map(input.slots.map((s) => [s.name, s]));
  const create: string[] = [];
  const drop: SlotPlan['drop'] = [];
  const keep: SlotPlan['keep'] = [];

  const silentFor = (member: string): number | null => {
    const seen = input.membersSeen[member];
    // Not yet judged (an agent that just started, a member just added): kept.
    if (seen === undefined) return null;
    const quiet = now - seen.at;
    return quiet > graceMs ? quiet : null;
  };

  for (const s of input.slots) {
    if (permanent.has(s.name)) {
      keep.push({ name: s.name, reason: { code: 'permanent', text: `slot ${s.name} is in permanent_slots` } });
      continue;
    }
    if (s.type !== 'physical' || !s.name.startsWith(SLOT_PREFIX)) {
      keep.push({ name: s.name, reason: { code: 'foreign', text: `slot ${s.name} (${s.type}) was not made by pgfloat: left alone; it ${held(s)}` } });
      continue;
    }
    let reason: SlotReason | null = null;
    const member = owners.get(s.name);
    if (member !== undefined) {
      const quiet = silentFor(member);
      if (quiet === null) {
        keep.push({ name: s.name, reason: { code: 'member', text: `slot ${s.name} is member ${member}'s` } });
        continue;
      }
      reason = { code: 'member-silent', text: `member ${member}'s heartbeat has not changed for ${secs(quiet)}, over slot_grace_period ${grace}; its slot ${s.name} ${held(s)}` };
    } else if (s.name === slotName(input.self)) {
      reason = { code: 'own-slot', text: `slot ${s.name} is this primary's own: nobody streams through it here; it ${held(s)}` };
    } else {
      const listed = now - (input.listedSince[s.name] ?? now);
      // A slot made for a member whose item is not written yet (a clone in progress) is given the grace period.
      if (listed <= graceMs) {
        keep.push({ name: s.name, reason: { code: 'unowned-recent', text: `slot ${s.name} belongs to no member, listed for ${secs(listed)}, within slot_grace_period ${grace}` } });
        continue;
      }
      reason = { code: 'no-member', text: `slot ${s.name} belongs to no member and is not in permanent_slots; it ${held(s)}` };
    }
    if (s.active) {
      keep.push({ name: s.name, reason: { code: 'active', text: `slot ${s.name} is kept while a walsender streams through it (else: ${reason.text})` } });
      continue;
    }
    drop.push({ name: s.name, reason });
  }

  for (const name of [...permanent].sort()) if (!existing.has(name)) create.push(name);
  for (const [name, member] of [...owners].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!existing.has(name) && !permanent.has(name) && silentFor(member) === null) create.push(name);
  }
  return { create, drop, keep };
}

/**
 * A replica that may promote keeps a copy of each permanent slot, so that the
 * slot is there, with the WAL its consumer needs, the moment it is promoted:
 * missing copies are created, and each copy is advanced to the position the
 * leader reports for its own slot, never past what this replica has
 * replayed, and never backwards (PostgreSQL refuses that).
 */
export function planPermanentCopies(input: {
  readonly slots: readonly ExistingSlot[];
  readonly permanentSlots: Readonly<Record<string, unknown>>;
  /** restart_lsn of each permanent slot on the leader, as its heartbeat reports them. */
  readonly leaderLsns: Readonly<Record<string, number>>;
  /** This replica's last replayed position. */
  readonly replayLsn: number | null;
}): { readonly create: string[]; readonly advance: { readonly name: string; readonly to: number }[] } {
  const create: string[] = [];
  const advance: { name: string; to: number }[] = [];
  for (const name of Object.keys(input.permanentSlots).sort()) {
    const have = input.slots.find((s) => s.name === name);
    if (have === undefined) {
      create.push(name);
      continue;
    }
    const leader = input.leaderLsns[name];
    if (leader === undefined || input.replayLsn === null) continue;
    const to = Math.min(leader, input.replayLsn);
    if (have.restartLsn !== null && have.restartLsn !== undefined && to > have.restartLsn) advance.push({ name, to });
  }
  return { create, advance };
}
