// The store read that starts an agent's loop, shared by the agent process and
// the simulation: the head alone when it suffices (lib/ha/head-read.ts), else
// the whole partition. Store errors propagate to the caller.
import type { ClusterId } from '../dcs/keys.js';
import type { CallOptions, ClusterSnapshot, Store } from '../dcs/store.js';
import type { AgentState } from '../ha/agent-step.js';
import { mergeHead, readKind, type ReadKind } from '../ha/head-read.js';

export interface LoopRead {
  readonly snapshot: ClusterSnapshot;
  /** What the decision stands on: `head` (the last full read with a head merged in) or a full read. */
  readonly read: ReadKind;
  /** The calls sent: a head read that showed a change is followed by a full read. */
  readonly sent: readonly ReadKind[];
}

export async function loopRead(store: Store, c: ClusterId, state: AgentState, startedAt: number, o: CallOptions): Promise<LoopRead> {
  if (readKind(state, startedAt) === 'head' && state.known !== null) {
    const merged = mergeHead(state.known, await store.readHead(c, o));
    if (merged !== null) return { snapshot: merged, read: 'head', sent: ['head'] };
    return { snapshot: await store.readCluster(c, o), read: 'cluster', sent: ['head', 'cluster'] };
  }
  return { snapshot: await store.readCluster(c, o), read: 'cluster', sent: ['cluster'] };
}
