// A loopback TCP proxy in front of DynamoDB Local that a test can turn into
// an unreachable store: `stall` accepts connections and never answers (a
// frozen engine, a black-holed network), `refuse` resets every connection (a
// stopped engine), `forward` passes bytes through. Switching drops the
// connections of the mode before, so clients reconnect cleanly. `setDelay`
// holds every answer back for a while: a slow store, not a dead one.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'stall' | 'refuse';

export interface StoreProxy {
  readonly endpoint: string;
  /** Connections accepted so far: a client that stopped calling stops raising it. */
  readonly accepted: number;
  setMode(mode: ProxyMode): void;
  /** Each chunk of every answer reaches its client this many ms late (0: at once). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startStoreProxy(upstream: string): Promise<StoreProxy> {
  const target = new URL(upstream);
  const open = new Set<Socket>();
  let mode: ProxyMode = 'forward';
  let accepted = 0;
  let delayMs = 0;
  const server: Server = createServer((client) => {
    accepted += 1;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => undefined);
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'stall') return;
    const up = connect(Number(target.port), target.hostname);
    open.add(up);
    up.on('close', () => {
      open.delete(up);
      client.destroy();
    });
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    client.pipe(up);
    // Timers of one delay fire in the order they were set: the answer's bytes stay in order.
    up.on('data', (chunk: Buffer) => {
      if (delayMs === 0) client.write(chunk);
      else setTimeout(() => client.destroyed || client.write(chunk), delayMs);
    });
    up.on('end', () => setTimeout(() => client.end(), delayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    setMode(next) {
      if (next === mode) return;
      mode = next;
      for (const s of open) s.destroy();
    },
    setDelay(ms) {
      delayMs = ms;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
