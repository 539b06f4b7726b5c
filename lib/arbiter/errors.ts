// Errors of the arbiter shell.
export class ArbiterError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The Lambda event is none of the shapes the arbiter accepts. Nothing was done. */
export class InvalidArbiterEventError extends ArbiterError {}

/** The arbiter's environment (table name, timings) is missing or malformed. */
export class InvalidArbiterSettingsError extends ArbiterError {}

/** One cluster's tick failed; the other clusters' ticks go on. */
export class ClusterTickError extends ArbiterError {
  constructor(
    readonly cluster: string,
    readonly step: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`cluster ${cluster}: ${step} failed: ${why}`, { cause });
  }
}

/** A step of the loop itself failed (its lease, the cluster list); the loop goes on without acting. */
export class LoopStepError extends ArbiterError {
  constructor(
    readonly shard: string,
    readonly step: 'take lease' | 'renew lease' | 'announce successor' | 'list clusters' | 'hand over lease',
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`loop of shard ${shard}: ${step} failed: ${why}`, { cause });
  }
}

/** A tick's write was not sent: the loop lease it acts under ends before it could be. Nothing was written. */
export class LeaseEndingError extends ArbiterError {
  constructor(readonly step: string) {
    super(`${step} not sent: the loop lease ends first (the next tick renews it and plans again)`);
  }
}
