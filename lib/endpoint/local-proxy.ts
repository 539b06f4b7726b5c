// Local proxy endpoint: a TCP proxy on a stable local port that forwards each
// new connection to the current primary's PostgreSQL address. Moving the
// endpoint destroys every connection to the old primary so clients reconnect
// and reach the new one; with no target, connections are closed at once.
import net from 'node:net';
import type { EndpointMover, EndpointTarget, MoveOptions } from './mover.js';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export interface LocalProxyOptions {
  /** Address to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Port to listen on; 0 picks a free one (tests). */
  readonly port: number;
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class LocalProxy {
  readonly host: string;
  private readonly requestedPort: number;
  private server: net.Server | null = null;
  private listening: Promise<number> | null = null;
  private current: ProxyTarget | null = null;
  private readonly pairs = new Set<Pair>();

  constructor(options: LocalProxyOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port;
  }

  /** Starts listening; resolves with the bound port. Idempotent. */
  listen(): Promise<number> {
    if (this.listening !== null) return this.listening;
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    const listening = new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, this.host, () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
    this.listening = listening;
    listening.catch(() => {
      if (this.server === server) {
        this.server = null;
        this.listening = null;
      }
    });
    return listening;
  }

  /** The bound port, or null when not listening. */
  get port(): number | null {
    const address = this.server?.address();
    return address !== null && typeof address === 'object' ? address.port : null;
  }

  /** Where new connections go, or null when they are refused. */
  get target(): ProxyTarget | null {
    return this.current;
  }

  /** Number of proxied connections open now. */
  get connectionCount(): number {
    return this.pairs.size;
  }

  /**
   * New connections go to host:port. When that differs from the current
   * target, every open connection is destroyed: they reach the old primary.
   */
  setTarget(host: string, port: number): void {
    if (this.current !== null && this.current.host === host && this.current.port === port) return;
    this.current = { host, port };
    this.dropAll();
  }

  /** Refuses new connections and destroys the open ones (no primary). */
  clearTarget(): void {
    this.current = null;
    this.dropAll();
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.listening = null;
    this.dropAll();
    if (server === null || !server.listening) return;
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  }

  private dropAll(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  private accept(client: net.Socket): void {
    const t = this.current;
    if (t === null || this.server === null) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: t.host, port: t.port });
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const fail = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail);
    upstream.on('error', fail);
    // A clean end on one side is passed on by pipe(); a side that closes
    // without ending (destroyed) ends the other, which flushes what it holds.
    const closed = (other: net.Socket) => (): void => {
      other.end();
      if (client.destroyed && upstream.destroyed) this.pairs.delete(pair);
    };
    client.on('close', closed(upstream));
    upstream.on('close', closed(client));
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** The local-proxy endpoint mover. It owns the proxy (and closes it) when `owned`. */
export class LocalProxyMover implements EndpointMover {
  readonly kind = 'local-proxy' as const;

  constructor(
    readonly proxy: LocalProxy,
    private readonly owned = false,
  ) {}

  async move(t: EndpointTarget, o?: MoveOptions): Promise<{ target: string }> {
    o?.signal?.throwIfAborted();
    await this.proxy.listen();
    this.proxy.setTarget(t.host, t.port);
    return { target: formatHostPort(t.host, t.port) };
  }

  async pointsAt(t: EndpointTarget): Promise<boolean> {
    const c = this.proxy.target;
    return c !== null && c.host === t.host && c.port === t.port;
  }

  async close(): Promise<void> {
    if (this.owned) await this.proxy.close();
  }
}
