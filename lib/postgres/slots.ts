// Physical replication slots. Create and drop are idempotent: creating a slot
// that exists and dropping one that does not both succeed and say so.
import type { Session } from './client.js';
import { InvalidConfigError, QueryError, SlotInUseError } from './errors.js';
import { lsnOrNull } from './lsn.js';

export interface SlotInfo {
  readonly name: string;
  readonly type: string;
  readonly active: boolean;
  readonly restartLsn: number | null;
  /** WAL this slot holds back, bytes: current (or replayed) position - restart_lsn; null when it reserves none. */
  readonly retainedBytes: number | null;
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

export function assertSlotName(name: string): void {
  if (!SLOT_NAME.test(name)) {
    throw new InvalidConfigError('slotName', `${JSON.stringify(name)} must be 1-63 of a-z 0-9 _ (fix: derive it with slotNameFor)`);
  }
}

/** The slot name for a member name: lower case, every other character than a-z 0-9 _ replaced by "_". */
export function slotNameFor(member: string): string {
  const name = member.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);
  assertSlotName(name);
  return name;
}

/** Creates a physical slot reserving WAL from now; false when it already existed. */
export async function createPhysicalSlot(session: Session, name: string): Promise<boolean> {
  assertSlotName(name);
  try {
    const rows = await session.query(
      `SELECT pg_create_physical_replication_slot($1::name, true)
       WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1::name)`,
      [name],
    );
    return rows.length === 1;
  } catch (error) {
    // Lost a race with another creator of the same slot.
    if (error instanceof QueryError && error.code === '42710') return false;
    throw error;
  }
}

/** Drops a slot; false when there was none. A slot in use raises SlotInUseError. */
export async function dropSlot(session: Session, node: string, name: string): Promise<boolean> {
  assertSlotName(name);
  try {
    const rows = await session.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1::name',
      [name],
    );
    return rows.length === 1;
  } catch (error) {
    if (error instanceof QueryError && error.code === '55006') throw new SlotInUseError(node, name, error);
    // Dropped by someone else between the lookup and the drop.
    if (error instanceof QueryError && error.code === '42704') return false;
    throw error;
  }
}

/** Moves a slot's restart_lsn forward to `lsn` (never backwards: the caller checks), releasing the WAL before it. */
export async function advanceSlot(session: Session, name: string, lsn: string): Promise<void> {
  assertSlotName(name);
  await session.query('SELECT pg_replication_slot_advance($1::name, $2::pg_lsn)', [name, lsn]);
}

/** The slots with the WAL each holds back from the server's current position (replay position on a standby). */
export async function listSlots(session: Session): Promise<SlotInfo[]> {
  const rows = await session.query<{ slot_name: string; slot_type: string; active: boolean; restart_lsn: string | null; retained: string | null }>(
    `SELECT slot_name, slot_type, active, restart_lsn,
            pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)::text AS retained
       FROM pg_replication_slots ORDER BY slot_name`,
  );
  return rows.map((r) => ({
    name: r.slot_name,
    type: r.slot_type,
    active: r.active,
    restartLsn: lsnOrNull(r.restart_lsn),
    retainedBytes: r.retained === null ? null : Math.max(0, Number(r.retained)),
  }));
}
