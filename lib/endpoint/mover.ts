// The endpoint mover: what the arbiter calls to point a cluster's stable
// endpoint (an elastic IP, a secondary private IP, a Route 53 record or a
// local TCP proxy) at the promoted primary. One implementation per
// EndpointConfig kind; createMover in factory.ts picks it.
import type { EndpointConfig, MemberItem } from '../dcs/items.js';
import { EndpointTargetError } from './errors.js';

/** Where the endpoint must point. */
export interface EndpointTarget {
  readonly member: string;
  readonly term: number;
  readonly networkInterfaceId?: string;
  readonly privateIp?: string;
  /** PostgreSQL address, for the local proxy. */
  readonly host: string;
  readonly port: number;
}

export interface MoveOptions {
  /** Deadline of the whole move or check, retries included. Default 10 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface EndpointMover {
  readonly kind: EndpointConfig['kind'];
  /**
   * Idempotent: point the endpoint at t. Resolves with a short description of
   * what it now points at (e.g. "eni-123/10.0.0.5"). Throws an EndpointError
   * (see errors.ts) or the signal's abort reason.
   */
  move(t: EndpointTarget, o?: MoveOptions): Promise<{ target: string }>;
  /** True when the endpoint already points at t (for reconciling and the endpoint-in-sync metric). */
  pointsAt(t: EndpointTarget, o?: MoveOptions): Promise<boolean>;
  close?(): Promise<void>;
}

export const DEFAULT_PG_PORT = 5432;

/** The target for `member` as primary of `term`: its network identity and PostgreSQL address from connUrl. */
export function targetFromMember(member: MemberItem, term: number): EndpointTarget {
  let url: URL;
  try {
    url = new URL(member.connUrl);
  } catch (err) {
    throw new EndpointTargetError(member.name, `connUrl ${JSON.stringify(member.connUrl)} is not a URL (expected postgres://host:port/...): ${(err as Error).message}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new EndpointTargetError(member.name, `connUrl ${JSON.stringify(member.connUrl)} is not a postgres:// URL`);
  }
  // URL keeps the brackets of an IPv6 literal; net.connect wants it bare.
  const host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1');
  if (host === '') {
    throw new EndpointTargetError(member.name, `connUrl ${JSON.stringify(member.connUrl)} names no host`);
  }
  const port = url.port === '' ? DEFAULT_PG_PORT : Number(url.port);
  return {
    member: member.name,
    term,
    ...(member.networkInterfaceId !== undefined ? { networkInterfaceId: member.networkInterfaceId } : {}),
    ...(member.privateIp !== undefined ? { privateIp: member.privateIp } : {}),
    host,
    port,
  };
}

/** The network interface of t, or a clear error naming the member. */
export function requireNetworkInterface(t: EndpointTarget, kind: string): string {
  if (t.networkInterfaceId === undefined || t.networkInterfaceId === '') {
    throw new EndpointTargetError(
      t.member,
      `reports no networkInterfaceId, which the ${kind} endpoint needs to move to it (term ${t.term}): ` +
        'run the agent on EC2 with access to instance metadata, or set the member\'s network interface',
    );
  }
  return t.networkInterfaceId;
}

/** The private IP of t, or a clear error naming the member. */
export function requirePrivateIp(t: EndpointTarget, kind: string): string {
  if (t.privateIp === undefined || t.privateIp === '') {
    throw new EndpointTargetError(
      t.member,
      `reports no privateIp, which the ${kind} endpoint needs to move to it (term ${t.term}): ` +
        'run the agent on EC2 with access to instance metadata, or set the member\'s private IP',
    );
  }
  return t.privateIp;
}
