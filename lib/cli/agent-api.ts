// Calls to a member's agent API (restart, reload, reinitialize), with the
// credentials of restapi.authentication. The member's address comes from its
// item in the store (`apiUrl`); every call has a deadline, and an agent that
// cannot be reached is an answer, not an exception.
import type { MemberItem } from '../dcs/items.js';
import type { CommandContext } from './context.js';
import { RefusedError } from './errors.js';

export interface AgentAnswer {
  /** HTTP status, or 0 when the agent could not be reached. */
  readonly status: number;
  readonly message: string;
}

/** The base URL of a member's agent API: its apiUrl without the /patroni path. */
export function apiBase(m: MemberItem): string {
  const u = new URL(m.apiUrl);
  return `${u.protocol}//${u.host}`;
}

/** The credentials, or a refusal saying where to put them. */
export function requireApiAuth(ctx: CommandContext, action: string): { username: string; password: string } {
  if (ctx.apiAuth !== null) return ctx.apiAuth;
  throw new RefusedError(
    `${action} refused: the agents' API needs credentials: set PGFLOAT_API_AUTH=user:password, or pass -c agent.yml (its restapi.authentication); nothing done`,
  );
}

export async function callAgent(
  m: MemberItem,
  method: 'POST' | 'DELETE',
  path: string,
  body: Record<string, unknown> | undefined,
  auth: { username: string; password: string },
  timeoutMs: number,
): Promise<AgentAnswer> {
  try {
    const r = await fetch(`${apiBase(m)}${path}`, {
      method,
      headers: { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await r.text();
    let message = text;
    try {
      const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
      message = String(parsed.message ?? parsed.error ?? text);
    } catch {
      // not JSON: the text as it came
    }
    return { status: r.status, message };
  } catch (err) {
    const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${Math.round(timeoutMs / 1000)} s` : (err as Error).message;
    return { status: 0, message: `cannot reach the agent at ${apiBase(m)}: ${why}` };
  }
}
