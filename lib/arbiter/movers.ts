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

export function moverCache(deps: MoverDeps = {}, create: typeof createMover = createMover): MoverCache {
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
      void held?.mover.close?.();
      const mover = create(config, deps);
      movers.set(label, { key, mover });
      return mover;
    },
    async close() {
      await Promise.all([...movers.values()].map((m) => m.mover.close?.()));
      movers.clear();
    },
  };
}
