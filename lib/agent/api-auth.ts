// HTTP Basic authentication of the health API's mutating endpoints.
import { createHash, timingSafeEqual } from 'node:crypto';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

export type AuthOutcome = 'ok' | 'missing' | 'wrong';

// Digests first, so the comparison takes the same time whatever the lengths.
function sameText(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Checks an `Authorization` header against the expected credentials in constant time. */
export function checkBasicAuth(header: string | undefined, expected: BasicCredentials): AuthOutcome {
  if (header === undefined || header.trim() === '') return 'missing';
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (m === null) return 'wrong';
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'wrong';
  const userOk = sameText(decoded.slice(0, colon), expected.username);
  const passwordOk = sameText(decoded.slice(colon + 1), expected.password);
  return userOk && passwordOk ? 'ok' : 'wrong';
}
