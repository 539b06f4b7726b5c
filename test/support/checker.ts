// A checker that writes to every node's own port, round after round, and
// records each acknowledged write with when it ran on one clock: what shows
// a split-brain window, where a client of the endpoint alone cannot.
import { sql } from './pgcluster.js';

export interface Ack {
  readonly node: string;
  readonly id: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface Checker {
  /** Stops after the round under way; every acknowledged write. */
  stop(): Promise<Ack[]>;
}

/** Needs `CREATE TABLE checked (id int PRIMARY KEY, node text)` on the primary first. Bounded: at most 5000 rounds. */
export function startChecker(nodes: readonly { readonly name: string; readonly pgPort: number }[]): Checker {
  const acks: Ack[] = [];
  let running = true;
  let id = 0;
  const done = (async () => {
    for (let round = 0; running && round < 5000; round++) {
      await Promise.all(
        nodes.map(async (s) => {
          const mine = ++id;
          const startedAt = performance.now();
          const ok = await sql(s.pgPort, 'INSERT INTO checked VALUES ($1, $2)', [mine, s.name], 1000).then(
            () => true,
            () => false,
          );
          if (ok) acks.push({ node: s.name, id: mine, startedAt, endedAt: performance.now() });
        }),
      );
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return acks;
    },
  };
}

/**
 * Acknowledged writes that overlap another node's, for a run in which the
 * primary moves forward (no failback): each acknowledged write on a node that
 * started after a node that took over later had already acknowledged one.
 * Nodes take over in the order of their first acknowledgement; an empty list
 * means no two nodes ever took writes at once.
 */
export function overlaps(acks: readonly Ack[]): Ack[] {
  const firstEnd = new Map<string, number>();
  for (const a of acks) firstEnd.set(a.node, Math.min(firstEnd.get(a.node) ?? Infinity, a.endedAt));
  const order = [...firstEnd.entries()].sort((x, y) => x[1] - y[1]).map(([n]) => n);
  const bad: Ack[] = [];
  for (let i = 0; i < order.length; i++) {
    const later = order.slice(i + 1);
    if (later.length === 0) continue;
    const takenOver = Math.min(...later.map((n) => firstEnd.get(n) ?? Infinity));
    for (const a of acks) if (a.node === order[i] && a.startedAt > takenOver) bad.push(a);
  }
  return bad;
}
