// One endpoint mover per cluster, reused across ticks (and across warm
// Lambda invocations), replaced when the cluster's endpoint config changes.
import type { EndpointConfig } from '../dcs/items.js';
import { clusterLabel, type ClusterId } from '../dcs/keys.js';
import { createMover, type MoverDeps } from '../endpoint/factory.js';
import type { EndpointMover } from '../endpoint/mover.js';

export interface MoverCache {
  get(c: ClusterId, config: EndpointConfig): EndpointMover;
  /** When the endpoint of a cluster was last looked at, arbiter ms; undefined: never by this process (or its mover was replaced). */
  checkedAt(c: ClusterId): number | undefined;
  markChecked(c: ClusterId, at: number): void;
  close(): Promise<void>;
}

/** Closes a mover; a failure to close is reported, never thrown: the mover is dropped either way. */
async function closeMover(label: string, mover: EndpointMover, onCloseError: (label: string, err: unknown) => void): Promise<void> {
  try {
    await mover.close?.();
  } catch (err) {
    onCloseError(label, err);
  }
}

export function moverCache(
  deps: MoverDeps = {},
  create: typeof createMover = createMover,
  onCloseError: (cluster: string, err: unknown) => void = () => undefined,
): MoverCache {
  const movers = new Map<string, { key: string; mover: EndpointMover; checkedAt?: number }>();
  return {
    checkedAt: (c) => movers.get(clusterLabel(c))?.checkedAt,
    markChecked(c, at) {
      const held = movers.get(clusterLabel(c));
      if (held !== undefined) held.checkedAt = at;
    },
    get(c, config) {
      const label = clusterLabel(c);
      const key = JSON.stringify(config);
      const held = movers.get(label);
      if (held !== undefined && held.key === key) return held.mover;
      if (held !== undefined) void closeMover(label, held.mover, onCloseError);
      const mover = create(config, deps);
      movers.set(label, { key, mover });
      return mover;
    },
    async close() {
      const all = [...movers];
      movers.clear();
      await Promise.all(all.map(([label, m]) => closeMover(label, m.mover, onCloseError)));
    },
  };
}
