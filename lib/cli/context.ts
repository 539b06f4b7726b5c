// What a command runs with: the resolved cluster, the store, the clock, the
// output streams and the way to ask for confirmation.
import type { ClusterId } from '../dcs/keys.js';
import type { Store } from '../dcs/store.js';

export interface Output {
  write(text: string): unknown;
}

export interface Input extends AsyncIterable<unknown> {
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
  /** Read for confirmation on a terminal and for `edit-config --file -`. */
  readonly stdin?: Input;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CliDeps {
  /** Used instead of a DynamoDB store built from --table/--endpoint/--region. */
  readonly store?: Store;
  /** Wall clock, epoch ms: request times and the heartbeat pre-check. */
  readonly now?: () => number;
  /** Answers a confirmation question instead of the terminal. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Monotonic milliseconds, for --wait deadlines and elapsed times. */
  readonly elapsed?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How often --wait reads the cluster. */
  readonly pollMs?: number;
  /** Who is written as `requestedBy`; default user@host. */
  readonly operator?: string;
}

/** How a command reports: what it runs with even when no cluster is named. */
export interface Reporter {
  readonly io: CliIo;
  readonly json: boolean;
  /** A line for the operator: stdout, or stderr under --json so stdout stays JSON. */
  say(line: string): void;
  /** Under --json, the command's one JSON document on stdout. */
  result(value: unknown): void;
}

export interface CommandContext extends Reporter {
  readonly store: Store;
  readonly cluster: ClusterId;
  readonly operator: string;
  readonly pollMs: number;
  now(): number;
  elapsed(): number;
  sleep(ms: number): Promise<void>;
  /**
   * Resolves when the operator agreed (or `force`); throws RefusedError
   * when they did not or cannot be asked.
   */
  confirm(question: string, force: boolean): Promise<void>;
  /** Reads all of stdin (for `--file -`); afterwards stdin cannot answer a confirmation. */
  readStdin(): Promise<string>;
  /** Credentials of the agents' API; null when none were given. */
  readonly apiAuth: { readonly username: string; readonly password: string } | null;
}
