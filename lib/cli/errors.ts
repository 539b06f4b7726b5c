// Errors of the operator CLI. Each carries the exit code it ends the run
// with: 2 for a command line that cannot be run as written, 1 for an
// operation that was refused or failed. Nothing is written in either case
// unless the message says so.

export class CliError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line is wrong: an unknown command or option, a missing or malformed argument. */
export class UsageError extends CliError {
  override readonly exitCode: number = 2;
  constructor(
    message: string,
    /** The command whose usage is printed after the message; null for the general usage. */
    readonly command: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** No cluster is named: no --cluster, positional cluster name, PGFLOAT_CLUSTER, nor scope in -c. */
export class MissingClusterError extends UsageError {}

/** The agent configuration file given with -c cannot be read or does not validate. */
export class AgentConfigError extends UsageError {
  constructor(
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`agent config ${path}: ${detail}`, null, options);
  }
}

/** The operation is refused: an unknown member, an ineligible candidate, an invalid edit, no confirmation. */
export class RefusedError extends CliError {}

/** A conditional write lost its race: someone else wrote the item between our read and our write. */
export class LostRaceError extends CliError {}
