// Applies the cluster-wide PostgreSQL parameters of the config item to the
// local server. The store's word is checked again here: a parameter that the
// catalogue refuses is reported and set aside, never written, so a crafted or
// stale config item cannot keep PostgreSQL from starting.
import { checkParameters, type ParameterProblem } from '../postgres/parameters.js';
import type { ParameterValue } from '../postgres/config.js';
import type { PostgresNode } from '../postgres/node.js';

export interface ParameterLog {
  info(message: string): void;
  warn(message: string): void;
}

export class ParameterSync {
  #applied: string | null = null;
  #problems: readonly ParameterProblem[] = [];

  constructor(
    private readonly pg: Pick<PostgresNode, 'applyClusterParameters'>,
    private readonly log: ParameterLog,
    private readonly memoryBytes: number,
    /** Called once a changed block was written (and a running server reloaded). */
    private readonly afterWrite: () => void = () => undefined,
  ) {}

  /** The cluster-wide parameters set aside at the last sync. */
  get problems(): readonly ParameterProblem[] {
    return this.#problems;
  }

  /** Writes what passed into the managed block and reloads a running server when it changed. */
  async sync(params: Readonly<Record<string, ParameterValue>>, o: { force?: boolean } = {}): Promise<void> {
    const { accepted, problems } = checkParameters(params, { source: 'cluster', memoryBytes: this.memoryBytes });
    const known = new Set(this.#problems.map((p) => p.message));
    for (const p of problems) {
      if (!known.has(p.message)) this.log.warn(`cluster parameter set aside, not applied: ${p.message}`);
    }
    this.#problems = problems;
    const key = JSON.stringify(Object.entries(accepted).sort(([a], [b]) => (a < b ? -1 : 1)));
    if (key === this.#applied && o.force !== true) return;
    try {
      const changed = await this.pg.applyClusterParameters(accepted);
      // Without a data directory nothing is written now: initdb, clone and rewind write the block with these.
      if (changed) this.afterWrite();
      if (changed) this.log.info(`cluster parameters written${Object.keys(accepted).length === 0 ? ' (none set)' : `: ${Object.keys(accepted).sort().join(', ')}`}`);
      this.#applied = key;
    } catch (err) {
      this.log.warn(`cannot apply the cluster parameters: ${(err as Error).message}`);
    }
  }
}
