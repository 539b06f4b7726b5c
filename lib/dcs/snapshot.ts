// Reading a snapshot's singleton items with the malformed case made explicit:
// `itemSlot` returns present, absent or malformed, so a consumer cannot take
// a malformed item for an absent one without saying so.
import type { ClusterSnapshot, ItemKind, MalformedEntry, SingletonKind } from './store.js';

export type ItemSlot<T> =
  | { readonly state: 'present'; readonly item: T }
  | { readonly state: 'absent' }
  | { readonly state: 'malformed'; readonly entry: MalformedEntry };

/** The singleton item `kind` of the snapshot: present, absent, or malformed (then set aside and listed). */
export function itemSlot<K extends SingletonKind>(snap: ClusterSnapshot, kind: K): ItemSlot<NonNullable<ClusterSnapshot[K]>> {
  const item = snap[kind];
  if (item !== null) return { state: 'present', item: item as NonNullable<ClusterSnapshot[K]> };
  const entry = snap.malformed.find((e) => e.kind === kind);
  return entry === undefined ? { state: 'absent' } : { state: 'malformed', entry };
}

/** The malformed entries of the given kinds, in key order. */
export function malformedOf(snap: ClusterSnapshot, kinds: readonly ItemKind[]): readonly MalformedEntry[] {
  return snap.malformed.filter((e) => kinds.includes(e.kind));
}

/** "leader (field phase)", for log lines and reasons. */
export function describeMalformed(e: MalformedEntry): string {
  return `${e.key} (field ${e.field})`;
}
