import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LocalProxy, LocalProxyMover } from '../../lib/endpoint/local-proxy.js';
import type { EndpointTarget } from '../../lib/endpoint/mover.js';

/** A TCP server that greets every connection with its name and keeps it open. */
async function namedServer(name: string): Promise<{ port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Client {
  readonly socket: net.Socket;
  /** Everything received until now. */
  received(): string;
  readonly closed: Promise<void>;
}

async function connect(port: number): Promise<Client> {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (data += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await once(socket, 'connect');
  return { socket, received: () => data, closed };
}

async function firstData(c: Client): Promise<string> {
  if (c.received() !== '') return c.received();
  const got = await Promise.race([once(c.socket, 'data').then(() => c.received()), c.closed.then(() => null)]);
  if (got === null) throw new Error('closed before any data');
  return got;
}

/** Caps a wait on loopback sockets (milliseconds unloaded): a hang fails the test, a busy machine does not. */
const WAIT_MS = 30_000;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, cap]).finally(() => clearTimeout(timer));
}

const target = (member: string, port: number): EndpointTarget => ({ member, term: 1, host: '127.0.0.1', port });

describe('LocalProxy', () => {
  let a: Awaited<ReturnType<typeof namedServer>>;
  let b: Awaited<ReturnType<typeof namedServer>>;
  before(async () => {
    a = await namedServer('primary-a');
    b = await namedServer('primary-b');
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('forwards to the current target and, on a move, closes old connections so new ones reach the new target', async () => {
    const proxy = new LocalProxy({ port: 0 });
    const port = await proxy.listen();
    assert.equal(await proxy.listen(), port, 'listen is idempotent');
    assert.equal(proxy.port, port);
    try {
      proxy.setTarget('127.0.0.1', a.port);
      const first = await connect(port);
      assert.equal(await within(firstData(first), WAIT_MS, 'greeting from a'), 'primary-a');
      // Bytes flow both ways.
      const echoed = new Promise<string>((resolve) => [...a.sockets][0]!.once('data', (d) => resolve(d.toString())));
      first.socket.write('SELECT 1');
      assert.equal(await within(echoed, WAIT_MS, 'client bytes at a'), 'SELECT 1');
      assert.equal(proxy.connectionCount, 1);

      proxy.setTarget('127.0.0.1', a.port);
      assert.equal(first.socket.destroyed, false, 'the same target keeps connections');

      proxy.setTarget('127.0.0.1', b.port);
      await within(first.closed, WAIT_MS, 'old connection closed');
      await within(
        (async () => {
          while (a.sockets.size > 0) await new Promise((r) => setTimeout(r, 10));
        })(),
        WAIT_MS,
        'upstream to a closed',
      );
      const second = await connect(port);
      assert.equal(await within(firstData(second), WAIT_MS, 'greeting from b'), 'primary-b');
      second.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('closes connections at once while it has no target', async () => {
    const proxy = new LocalProxy({ host: '127.0.0.1', port: 0 });
    const port = await proxy.listen();
    try {
      assert.equal(proxy.target, null);
      const c = await connect(port);
      await within(c.closed, WAIT_MS, 'connection closed');
      assert.equal(c.received(), '');

      proxy.setTarget('127.0.0.1', a.port);
      const d = await connect(port);
      assert.equal(await within(firstData(d), WAIT_MS, 'greeting'), 'primary-a');
      proxy.clearTarget();
      await within(d.closed, WAIT_MS, 'closed by clearTarget');
    } finally {
      await proxy.close();
    }
  });

  it('closes the client when the target refuses the connection', async () => {
    const dead = await namedServer('gone');
    const deadPort = dead.port;
    await dead.close();
    const proxy = new LocalProxy({ port: 0 });
    const port = await proxy.listen();
    try {
      proxy.setTarget('127.0.0.1', deadPort);
      const c = await connect(port);
      await within(c.closed, WAIT_MS, 'client closed');
      assert.equal(proxy.connectionCount, 0);
    } finally {
      await proxy.close();
    }
  });

  it('close() destroys every connection and leaves nothing listening', async () => {
    const proxy = new LocalProxy({ port: 0 });
    const port = await proxy.listen();
    proxy.setTarget('127.0.0.1', a.port);
    const c = await connect(port);
    assert.equal(await within(firstData(c), WAIT_MS, 'greeting'), 'primary-a');
    await within(proxy.close(), WAIT_MS, 'close');
    await within(c.closed, WAIT_MS, 'client closed by close()');
    assert.equal(proxy.port, null);
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.equal(refused, 'ECONNREFUSED');
    await proxy.close();
  });
});

describe('LocalProxyMover', () => {
  it('moves the proxy target and reports whether it points at a member', async () => {
    const a = await namedServer('primary-a');
    const proxy = new LocalProxy({ port: 0 });
    const mover = new LocalProxyMover(proxy, true);
    try {
      assert.equal(mover.kind, 'local-proxy');
      assert.equal(await mover.pointsAt(target('pg-a', a.port)), false);
      assert.deepEqual(await mover.move(target('pg-a', a.port)), { target: `127.0.0.1:${a.port}` });
      assert.equal(await mover.pointsAt(target('pg-a', a.port)), true);
      assert.equal(await mover.pointsAt(target('pg-b', a.port + 1)), false);
      const port = proxy.port;
      assert.ok(port !== null, 'the first move starts listening');
      const c = await connect(port);
      assert.equal(await within(firstData(c), WAIT_MS, 'greeting'), 'primary-a');
      c.socket.destroy();
    } finally {
      await mover.close();
      await a.close();
    }
    assert.equal(proxy.port, null, 'an owned proxy closes with the mover');
  });

  it('does not close a proxy it does not own', async () => {
    const proxy = new LocalProxy({ port: 0 });
    await proxy.listen();
    const mover = new LocalProxyMover(proxy);
    await mover.close();
    assert.notEqual(proxy.port, null);
    await proxy.close();
  });

  it('formats IPv6 targets with brackets', async () => {
    const proxy = new LocalProxy({ port: 0 });
    const mover = new LocalProxyMover(proxy, true);
    try {
      assert.deepEqual(await mover.move({ member: 'pg-a', term: 1, host: '::1', port: 5432 }), { target: '[::1]:5432' });
    } finally {
      await mover.close();
    }
  });
});
