// failsafe_mode, the primary's calls: POST /failsafe on every member's agent
// API at once, each bounded by the same timeout. Only an answer of 200 is a
// promise; anything else, or no answer, is not.
import type { FailsafeTarget } from '../ha/agent-effects.js';
import type { BasicCredentials } from './api-auth.js';

export type FailsafeAnswer = 'ok' | 'refused' | 'unreachable';

export interface FailsafeCall {
  readonly holder: string;
  readonly term: number;
  readonly durationMs: number;
  readonly targets: readonly FailsafeTarget[];
}

/** The agent API's /failsafe URL of a member whose status URL is `apiUrl` (http://host:port/patroni). */
export function failsafeUrl(apiUrl: string): URL | null {
  try {
    const u = new URL(apiUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return new URL('/failsafe', u);
  } catch {
    return null;
  }
}

export async function callFailsafe(call: FailsafeCall, auth: BasicCredentials | null, timeoutMs: number): Promise<Record<string, FailsafeAnswer>> {
  const body = JSON.stringify({ holder: call.holder, term: call.term, durationMs: call.durationMs });
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (auth !== null) headers.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const answers = await Promise.all(
    call.targets.map(async (t): Promise<[string, FailsafeAnswer]> => {
      const url = failsafeUrl(t.apiUrl);
      if (url === null) return [t.name, 'unreachable'];
      try {
        const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer().catch(() => undefined);
        return [t.name, res.status === 200 ? 'ok' : res.status === 409 ? 'refused' : 'unreachable'];
      } catch {
        return [t.name, 'unreachable'];
      }
    }),
  );
  return Object.fromEntries(answers);
}
