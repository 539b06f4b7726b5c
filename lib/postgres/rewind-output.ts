// What pg_rewind's output says about the target, where the agent must act on it.

/**
 * pg_rewind fails with "could not find previous WAL record at L: invalid
 * record length at L: wanted 24, got 0" when the target's WAL ends exactly at
 * the divergence point L: it holds nothing of the old timeline past the fork,
 * so there is nothing to rewind, and it can follow the new timeline as it is.
 * pg_rewind fails there while it looks for the last checkpoint, before it
 * changes any file. True only when both locations are the same L.
 */
export function targetEndsAtFork(output: string): boolean {
  const diverged = /servers diverged at WAL location ([0-9A-F]+\/[0-9A-F]+)/i.exec(output)?.[1];
  if (diverged === undefined) return false;
  const m = /could not find previous WAL record at ([0-9A-F]+\/[0-9A-F]+): invalid record length at ([0-9A-F]+\/[0-9A-F]+): wanted \d+, got 0/i.exec(output);
  return m !== null && m[1] === diverged && m[2] === diverged;
}
