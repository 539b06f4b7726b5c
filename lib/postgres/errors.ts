// Errors of the local PostgreSQL control. Every message names the node, file
// or command concerned and, where there is one, the fix.

export class PostgresError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A node configuration value is unusable; `field` names it. */
export class InvalidConfigError extends PostgresError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid PostgreSQL node configuration, ${field}: ${message}`);
  }
}

function commandLine(command: string, args: readonly string[]): string {
  return [command, ...args].join(' ');
}

/** An external command could not be started at all (missing binary, bad user). */
export class CommandSpawnError extends PostgresError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`could not run ${commandLine(command, args)}: ${why} (fix: check binDir and that the binary exists)`, { cause });
  }
}

/** An external command exited with a failure code or was killed by a signal. */
export class CommandFailedError extends PostgresError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    const how = signal !== null ? `killed by ${signal}` : `exit code ${exitCode}`;
    const detail = stderr.trim() || stdout.trim() || '(no output)';
    super(`${commandLine(command, args)} failed (${how}): ${detail}`);
  }
}

/** An external command ran past its deadline and was killed. */
export class CommandTimeoutError extends PostgresError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly timeoutMs: number,
    readonly stderr: string,
  ) {
    const detail = stderr.trim() ? `; its stderr: ${stderr.trim()}` : '';
    super(`${commandLine(command, args)} did not finish within ${timeoutMs} ms and was killed${detail}`);
  }
}

/** The server did not come up; the tail of its log says why. */
export class ServerStartError extends PostgresError {
  constructor(
    readonly node: string,
    readonly logFile: string,
    readonly logTail: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`PostgreSQL node ${node} did not start: ${why}\n--- last lines of ${logFile} ---\n${logTail}`, { cause });
  }
}

/** The operation needs a running server and this one is stopped. */
export class NotRunningError extends PostgresError {
  constructor(
    readonly node: string,
    readonly operation: string,
  ) {
    super(`cannot ${operation}: PostgreSQL node ${node} is not running (fix: start it first)`);
  }
}

/** The operation needs a stopped server and this one runs. */
export class StillRunningError extends PostgresError {
  constructor(
    readonly node: string,
    readonly operation: string,
  ) {
    super(`cannot ${operation}: PostgreSQL node ${node} is running (fix: stop it first)`);
  }
}

/** The operation needs a server in recovery (a replica) and this one is a primary. */
export class NotInRecoveryError extends PostgresError {
  constructor(
    readonly node: string,
    readonly operation: string,
  ) {
    super(
      `cannot ${operation}: PostgreSQL node ${node} is a running primary (fix: stop it, rewind it if it diverged, then follow)`,
    );
  }
}

/** Two data directories or servers belong to different clusters (initdb runs). */
export class SystemIdMismatchError extends PostgresError {
  constructor(
    readonly where: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `system identifier mismatch at ${where}: expected ${expected}, found ${actual} (fix: this data directory belongs to another cluster; clone it afresh)`,
    );
  }
}

/** A data directory that must be empty (clone target) holds files. */
export class DataDirNotEmptyError extends PostgresError {
  constructor(readonly dataDir: string) {
    super(`data directory ${dataDir} is not empty (fix: remove its contents before cloning into it)`);
  }
}

/** The server could not be reached. */
export class ConnectionError extends PostgresError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`could not connect to PostgreSQL at ${host}:${port}: ${why}`, { cause });
  }
}

/** A statement failed on the server; `code` is its SQLSTATE when the server sent one. */
export class QueryError extends PostgresError {
  constructor(
    readonly target: string,
    readonly statement: string,
    readonly code: string | null,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`query on ${target} failed${code ? ` (SQLSTATE ${code})` : ''}: ${why} [${statement}]`, { cause });
  }
}

/** Promotion was asked for but the server did not leave recovery in time. */
export class PromoteError extends PostgresError {}

/** A replication slot cannot be dropped while a walsender uses it. */
export class SlotInUseError extends PostgresError {
  constructor(
    readonly node: string,
    readonly slot: string,
    cause: unknown,
  ) {
    super(`replication slot ${slot} on node ${node} is in use (fix: stop or re-point the replica using it first)`, { cause });
  }
}

/** A text is not an LSN, or names a position this module cannot represent exactly. */
export class InvalidLsnError extends PostgresError {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid LSN ${JSON.stringify(input)}: ${reason}`);
  }
}

/** A synchronous_standby_names value or specification is malformed. */
export class InvalidSyncStandbysError extends PostgresError {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid synchronous_standby_names ${JSON.stringify(input)}: ${reason}`);
  }
}

/** pg_controldata printed something this module cannot read. */
export class ControlDataError extends PostgresError {
  constructor(
    readonly dataDir: string,
    reason: string,
  ) {
    super(`cannot read pg_controldata output for ${dataDir}: ${reason}`);
  }
}
