import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import { checkBasicAuth } from '../../lib/agent/api-auth.js';
import { parseZonedTime } from '../../lib/agent/api-body.js';
import { parseLagBytes } from '../../lib/agent/api-checks.js';
import { createHealthApi, listenHealthApi, type HealthApiOptions, type MutationResult, type SwitchoverArgs } from '../../lib/agent/api.js';
import { HealthApiListenError } from '../../lib/agent/errors.js';
import type { AgentStatus, ClusterView } from '../../lib/agent/status.js';

const MB = 1024 * 1024;
const TAGS = { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false };
const AUTH = { username: 'admin', password: 's3cret' };

function primary(over: Partial<AgentStatus> = {}): AgentStatus {
  return {
    name: 'node1',
    scope: 'orders',
    namespace: 'pgfloat',
    role: 'primary',
    pgState: 'running',
    holdsLease: true,
    demoting: false,
    timeline: 3,
    lsn: 50_331_856,
    replayLsn: null,
    lagBytes: null,
    syncStandby: false,
    leader: 'node1',
    term: 4,
    paused: false,
    systemId: '7268616322854375442',
    serverVersion: 160004,
    pendingRestart: [],
    parameterProblems: [],
    tags: TAGS,
    lastLoopAt: 100_000,
    loopWaitMs: 2_000,
    ttlMs: 10_000,
    connUrl: 'postgres://10.0.0.1:5432/postgres',
    apiUrl: 'http://10.0.0.1:8008/patroni',
    ...over,
  };
}

function replica(over: Partial<AgentStatus> = {}): AgentStatus {
  return primary({
    name: 'node2',
    role: 'replica',
    holdsLease: false,
    lsn: 50_331_000,
    replayLsn: 50_330_000,
    lagBytes: 856,
    connUrl: 'postgres://10.0.0.2:5432/postgres',
    apiUrl: 'http://10.0.0.2:8008/patroni',
    ...over,
  });
}

const CLUSTER: ClusterView = {
  scope: 'orders',
  paused: false,
  leader: 'node1',
  term: 4,
  members: [
    { name: 'node3', role: 'replica', state: 'running', host: '10.0.0.3', port: 5432, apiUrl: 'http://10.0.0.3:8008/patroni', timeline: 3, lagBytes: null, tags: { ...TAGS, nofailover: true } },
    { name: 'node1', role: 'leader', state: 'running', host: '10.0.0.1', port: 5432, apiUrl: 'http://10.0.0.1:8008/patroni', timeline: 3, lagBytes: null, tags: TAGS },
    { name: 'node2', role: 'sync_standby', state: 'running', host: '10.0.0.2', port: 5433, apiUrl: 'http://10.0.0.2:8008/patroni', timeline: 3, lagBytes: 856, tags: TAGS },
  ],
};

interface Api {
  readonly port: number;
  set(s: AgentStatus): void;
  readonly clock: { now: number };
}

async function startApi(t: TestContext, initial: AgentStatus, extra: Partial<HealthApiOptions> = {}): Promise<Api> {
  let current = initial;
  const clock = { now: initial.lastLoopAt + 500 };
  const server = createHealthApi({ status: () => current, cluster: () => CLUSTER, now: () => clock.now, auth: AUTH, ...extra });
  const port = await listenHealthApi(server, '127.0.0.1', 0);
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { port, set: (s) => (current = s), clock };
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly reused: boolean;
}

interface CallOptions {
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Send the body in two chunks without Content-Length. */
  readonly chunked?: boolean;
  readonly agent?: http.Agent;
}

function call(port: number, method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: o.headers, agent: o.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    if (o.body !== undefined && o.chunked) {
      const half = Math.floor(o.body.length / 2);
      req.write(o.body.slice(0, half));
      req.end(o.body.slice(half));
    } else {
      req.end(o.body);
    }
  });
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const json = (r: Reply): Record<string, unknown> => JSON.parse(r.body) as Record<string, unknown>;

interface Case {
  readonly fixture: string;
  readonly status: AgentStatus;
  readonly method?: string;
  readonly path: string;
  readonly code: number;
}

const FIXTURES = {
  'primary with lease': primary(),
  'demoting primary': primary({ demoting: true, holdsLease: false }),
  'demoting primary still holding the lease': primary({ demoting: true }),
  'primary without lease': primary({ holdsLease: false }),
  'primary with PostgreSQL stopped': primary({ pgState: 'stopped' }),
  'async replica': replica(),
  'sync replica': replica({ syncStandby: true }),
  'replica 512 kB behind': replica({ lagBytes: 512 * 1024 }),
  'replica exactly 1 MB behind': replica({ lagBytes: MB }),
  'replica 2 MB behind': replica({ lagBytes: 2 * MB }),
  'sync replica 2 MB behind': replica({ syncStandby: true, lagBytes: 2 * MB }),
  'replica with unknown lag': replica({ lagBytes: null }),
  'replica with noloadbalance': replica({ tags: { ...TAGS, noloadbalance: true } }),
  'replica with nofailover': replica({ tags: { ...TAGS, nofailover: true } }),
  'replica with PostgreSQL stopped': replica({ pgState: 'stopped' }),
  'replica with PostgreSQL starting': replica({ pgState: 'starting', lagBytes: null }),
  'uninitialized node': primary({ role: 'uninitialized', holdsLease: false, pgState: 'initializing', lsn: null, leader: null }),
} satisfies Record<string, AgentStatus>;
type Fixture = keyof typeof FIXTURES;

const row = (fixture: Fixture, path: string, code: number, method = 'GET'): Case => ({ fixture, status: FIXTURES[fixture], method, path, code });

const TABLE: readonly Case[] = [
  // The primary checks.
  row('primary with lease', '/primary', 200),
  row('primary with lease', '/leader', 200),
  row('primary with lease', '/read-write', 200),
  row('primary with lease', '/master', 200),
  row('primary with lease', '/', 200),
  row('primary with lease', '/replica', 503),
  row('primary with lease', '/standby-leader', 503),
  row('demoting primary', '/primary', 503),
  row('demoting primary', '/leader', 503),
  row('demoting primary', '/read-write', 503),
  row('demoting primary still holding the lease', '/primary', 503),
  row('demoting primary still holding the lease', '/read-only', 503),
  row('demoting primary still holding the lease', '/readiness', 503),
  row('primary without lease', '/primary', 503),
  row('primary with PostgreSQL stopped', '/primary', 503),
  row('async replica', '/primary', 503),
  row('async replica', '/', 503),
  row('uninitialized node', '/primary', 503),
  // Replicas, with lag limits in Patroni's units.
  row('async replica', '/replica', 200),
  row('replica with PostgreSQL stopped', '/replica', 503),
  row('replica 512 kB behind', '/replica?lag=1MB', 200),
  row('replica exactly 1 MB behind', '/replica?lag=1MB', 200),
  row('replica 2 MB behind', '/replica?lag=1MB', 503),
  row('replica 2 MB behind', '/replica?lag=1048576', 503),
  row('replica 2 MB behind', '/replica?lag=4096kB', 200),
  row('replica 2 MB behind', '/replica', 200),
  row('replica with unknown lag', '/replica?lag=1MB', 503),
  row('replica with unknown lag', '/replica', 200),
  row('async replica', '/replica?lag=fast', 400),
  row('async replica', '/replica?replication_state=streaming', 200),
  row('replica with unknown lag', '/replica?replication_state=streaming', 503),
  // Tag filters; leader checks ignore them.
  row('replica with nofailover', '/replica?tag_nofailover=true', 200),
  row('replica with nofailover', '/replica?tag_nofailover=false', 503),
  row('async replica', '/replica?tag_failover_priority=1', 200),
  row('async replica', '/replica?tag_failover_priority=2', 503),
  row('async replica', '/replica?tag_zone=eu-west-1a', 503),
  row('primary with lease', '/primary?tag_zone=eu-west-1a', 200),
  row('primary with lease', '/read-only?tag_nofailover=true', 503),
  // noloadbalance takes a replica out of read traffic, not out of health.
  row('replica with noloadbalance', '/replica', 503),
  row('replica with noloadbalance', '/read-only', 503),
  row('replica with noloadbalance', '/health', 200),
  // Read-only: the primary or a replica.
  row('primary with lease', '/read-only', 200),
  row('async replica', '/read-only', 200),
  row('demoting primary', '/read-only', 503),
  row('replica with PostgreSQL stopped', '/read-only', 503),
  row('replica 2 MB behind', '/read-only?lag=1MB', 503),
  row('uninitialized node', '/read-only', 503),
  // Synchronous and asynchronous standbys.
  row('sync replica', '/sync', 200),
  row('sync replica', '/synchronous', 200),
  row('sync replica', '/async', 503),
  row('async replica', '/sync', 503),
  row('async replica', '/async', 200),
  row('async replica', '/asynchronous', 200),
  row('primary with lease', '/sync', 503),
  row('primary with lease', '/async', 503),
  row('sync replica 2 MB behind', '/sync?lag=1MB', 503),
  row('replica 2 MB behind', '/async?lag=1MB', 503),
  row('primary with lease', '/read-only-sync', 200),
  row('sync replica', '/read-only-sync', 200),
  row('async replica', '/read-only-sync', 503),
  // PostgreSQL health.
  row('primary with lease', '/health', 200),
  row('async replica', '/health', 200),
  row('replica with PostgreSQL stopped', '/health', 503),
  row('primary with PostgreSQL stopped', '/health', 503),
  row('uninitialized node', '/health', 503),
  // Readiness: the leader, or a streaming replica.
  row('primary with lease', '/readiness', 200),
  row('demoting primary', '/readiness', 503),
  row('async replica', '/readiness', 200),
  row('replica with unknown lag', '/readiness', 503),
  row('replica with PostgreSQL stopped', '/readiness', 503),
  row('replica 2 MB behind', '/readiness?lag=1MB', 503),
  row('replica 512 kB behind', '/readiness?lag=1MB', 200),
  // HEAD and OPTIONS give the GET status.
  row('primary with lease', '/primary', 200, 'HEAD'),
  row('async replica', '/primary', 503, 'HEAD'),
  row('primary with lease', '/primary', 200, 'OPTIONS'),
  row('primary with lease', '/replica', 503, 'OPTIONS'),
  row('async replica', '/replica', 200, 'OPTIONS'),
  row('primary with lease', '/patroni', 200, 'HEAD'),
  // Status documents answer whatever the state.
  row('primary with PostgreSQL stopped', '/patroni', 200),
  row('async replica', '/cluster', 200),
  // Unknown paths and methods.
  row('primary with lease', '/nope', 404),
  row('primary with lease', '/primary/extra', 404),
  row('primary with lease', '/primary', 405, 'POST'),
  row('primary with lease', '/patroni', 405, 'DELETE'),
  row('primary with lease', '/switchover', 405, 'GET'),
];

describe('health API status codes', () => {
  for (const c of TABLE) {
    test(`${c.method} ${c.path} answers ${c.code} on a ${c.fixture}`, async (t) => {
      // Prepare
      const api = await startApi(t, c.status);

      // Act
      const r = await call(api.port, c.method ?? 'GET', c.path);

      // Assess
      assert.equal(r.status, c.code, r.body);
      assert.match(String(r.headers['content-type']), /^application\/json/);
    });
  }
});

describe('health API', () => {
  test('a primary that starts demoting answers 503 on /primary from its next request on the same connection', async (t) => {
    // Prepare
    const api = await startApi(t, primary());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const before = await call(api.port, 'GET', '/primary', { agent });

    // Act
    api.set(primary({ demoting: true, holdsLease: false }));
    const during = await call(api.port, 'GET', '/primary', { agent });

    // Assess
    assert.equal(before.status, 200);
    assert.equal(during.status, 503);
    assert.equal(during.reused, true, 'the load balancer kept its connection');
    assert.equal((json(during)['pgfloat'] as Record<string, unknown>)['demoting'], true);
  });

  test('/liveness answers 200 while the loop is fresh and 503 once it is older than ttl on a primary', async (t) => {
    // Prepare
    const api = await startApi(t, primary({ lastLoopAt: 100_000, ttlMs: 10_000 }));

    // Act
    api.clock.now = 110_000;
    const fresh = await call(api.port, 'GET', '/liveness');
    api.clock.now = 110_001;
    const stale = await call(api.port, 'GET', '/liveness');

    // Assess
    assert.equal(fresh.status, 200, fresh.body);
    assert.equal(json(fresh)['alive'], true);
    assert.equal(stale.status, 503, stale.body);
    assert.match(String(json(stale)['reason']), /10001 ms/);
  });

  test('/liveness gives a replica twice ttl, and a paused cluster is always alive', async (t) => {
    // Prepare
    const api = await startApi(t, replica({ lastLoopAt: 100_000, ttlMs: 10_000 }));

    // Act
    api.clock.now = 115_000;
    const replicaWithinTwiceTtl = await call(api.port, 'GET', '/liveness');
    api.clock.now = 120_001;
    const replicaStale = await call(api.port, 'GET', '/liveness');
    api.set(replica({ lastLoopAt: 100_000, ttlMs: 10_000, paused: true }));
    const pausedStale = await call(api.port, 'HEAD', '/liveness');

    // Assess
    assert.equal(replicaWithinTwiceTtl.status, 200);
    assert.equal(replicaStale.status, 503);
    assert.equal(pausedStale.status, 200);
  });

  test('HEAD answers with headers and no body, OPTIONS with the status code and Allow', async (t) => {
    // Prepare
    const api = await startApi(t, primary());

    // Act
    const head = await call(api.port, 'HEAD', '/primary');
    const options = await call(api.port, 'OPTIONS', '/replica');
    const get = await call(api.port, 'GET', '/primary');

    // Assess
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)));
    assert.equal(options.status, 503);
    assert.equal(options.body, '');
    assert.equal(options.headers['allow'], 'GET, HEAD, OPTIONS');
  });

  test('405 names the allowed methods in Allow, 404 names the endpoints', async (t) => {
    // Prepare
    const api = await startApi(t, primary());

    // Act
    const postPrimary = await call(api.port, 'POST', '/primary', { body: '{}' });
    const getSwitchover = await call(api.port, 'GET', '/switchover');
    const missing = await call(api.port, 'GET', '/primaries');

    // Assess
    assert.equal(postPrimary.status, 405);
    assert.equal(postPrimary.headers['allow'], 'GET, HEAD, OPTIONS');
    assert.equal(getSwitchover.status, 405);
    assert.equal(getSwitchover.headers['allow'], 'POST');
    assert.equal(missing.status, 404);
    assert.match(String(json(missing)['error']), /\/primaries.*\/primary/);
  });

  test('an unreadable lag is refused with 400 naming the parameter and its forms', async (t) => {
    // Prepare
    const api = await startApi(t, replica());

    // Act
    const r = await call(api.port, 'GET', '/replica?lag=10%20parsecs');

    // Assess
    assert.equal(r.status, 400);
    assert.match(String(json(r)['error']), /lag="10 parsecs".*16MB/);
  });

  test('health checks answer with the /patroni document; the status code carries the answer', async (t) => {
    // Prepare
    const api = await startApi(t, replica());

    // Act
    const check = await call(api.port, 'GET', '/primary');
    const patroni = await call(api.port, 'GET', '/patroni');

    // Assess
    assert.equal(check.status, 503);
    assert.equal(patroni.status, 200);
    assert.deepEqual(json(check), json(patroni));
  });

  test('/patroni describes a primary in Patroni field names', async (t) => {
    // Prepare
    const api = await startApi(t, primary());

    // Act
    const r = await call(api.port, 'GET', '/patroni');

    // Assess
    assert.equal(r.status, 200);
    const body = json(r);
    assert.equal(body['state'], 'running');
    assert.equal(body['role'], 'primary');
    assert.equal(body['server_version'], 160004);
    assert.equal(body['timeline'], 3);
    assert.deepEqual(body['xlog'], { location: 50_331_856 });
    assert.equal(body['cluster_unlocked'], false);
    assert.equal(body['database_system_identifier'], '7268616322854375442');
    assert.equal(body['pause'], false);
    assert.deepEqual(body['patroni'], { version: 'pgfloat', scope: 'orders', name: 'node1' });
    assert.deepEqual(body['tags'], { nofailover: false, failover_priority: 1, nosync: false, noloadbalance: false });
  });

  test('/patroni says pending_restart, and pgfloat lists the settings and the parameters set aside', async (t) => {
    // Prepare
    const waiting = await startApi(t, primary({ pendingRestart: ['shared_buffers'], parameterProblems: ['work_mem=lots: expected a number'] }));
    const settled = await startApi(t, primary());

    // Act
    const w = json(await call(waiting.port, 'GET', '/patroni'));
    const s = json(await call(settled.port, 'GET', '/patroni'));

    // Assess
    assert.equal(w['pending_restart'], true);
    assert.deepEqual((w['pgfloat'] as Record<string, unknown>)['pending_restart'], ['shared_buffers']);
    assert.deepEqual((w['pgfloat'] as Record<string, unknown>)['parameter_problems'], ['work_mem=lots: expected a number']);
    assert.equal('pending_restart' in s, false);
  });

  test('/patroni describes a replica with received and replayed positions, lag and sync state', async (t) => {
    // Prepare
    const api = await startApi(t, replica({ syncStandby: true, leader: null, paused: true }));

    // Act
    const r = await call(api.port, 'GET', '/patroni');

    // Assess
    const body = json(r);
    assert.equal(body['role'], 'replica');
    assert.deepEqual(body['xlog'], { received_location: 50_331_000, replayed_location: 50_330_000 });
    assert.equal(body['replication_lag_bytes'], 856);
    assert.equal(body['sync_standby'], true);
    assert.equal(body['cluster_unlocked'], true);
    assert.equal(body['pause'], true);
    assert.equal((body['patroni'] as Record<string, unknown>)['name'], 'node2');
  });

  test('/cluster lists the members by name in Patroni shape, lag on non-leaders only', async (t) => {
    // Prepare
    const api = await startApi(t, replica());

    // Act
    const r = await call(api.port, 'GET', '/cluster');

    // Assess
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), {
      members: [
        { name: 'node1', role: 'leader', state: 'running', host: '10.0.0.1', port: 5432, api_url: 'http://10.0.0.1:8008/patroni', timeline: 3, tags: { nofailover: false, failover_priority: 1, nosync: false, noloadbalance: false } },
        { name: 'node2', role: 'sync_standby', state: 'running', host: '10.0.0.2', port: 5433, api_url: 'http://10.0.0.2:8008/patroni', timeline: 3, lag: 856, tags: { nofailover: false, failover_priority: 1, nosync: false, noloadbalance: false } },
        { name: 'node3', role: 'replica', state: 'running', host: '10.0.0.3', port: 5432, api_url: 'http://10.0.0.3:8008/patroni', timeline: 3, lag: 'unknown', tags: { nofailover: true, failover_priority: 1, nosync: false, noloadbalance: false } },
      ],
      scope: 'orders',
      pause: false,
    });
  });

  test('a throwing status() answers 503 with the reason, and the next request is served', async (t) => {
    // Prepare
    let broken = true;
    const api = await startApi(t, primary(), {
      status: () => {
        if (broken) throw new Error('status not loaded yet');
        return primary();
      },
    });

    // Act
    const onPrimary = await call(api.port, 'GET', '/primary');
    const onPatroni = await call(api.port, 'GET', '/patroni');
    const onHead = await call(api.port, 'HEAD', '/replica');
    broken = false;
    const after = await call(api.port, 'GET', '/primary');

    // Assess
    assert.equal(onPrimary.status, 503);
    assert.match(String(json(onPrimary)['error']), /agent status unavailable: status not loaded yet/);
    assert.equal(onPatroni.status, 503);
    assert.equal(onHead.status, 503);
    assert.equal(after.status, 200);
  });

  test('a throwing cluster() answers 503 on /cluster', async (t) => {
    // Prepare
    const api = await startApi(t, primary(), {
      cluster: () => {
        throw new Error('no cluster read yet');
      },
    });

    // Act
    const r = await call(api.port, 'GET', '/cluster');

    // Assess
    assert.equal(r.status, 503);
    assert.match(String(json(r)['error']), /cluster view unavailable: no cluster read yet/);
  });

  test('listenHealthApi rejects with the address when the port is taken', async (t) => {
    // Prepare
    const api = await startApi(t, primary());
    const second = createHealthApi({ status: () => primary(), cluster: () => CLUSTER, now: () => 0, auth: null });

    // Act
    const listening = listenHealthApi(second, '127.0.0.1', api.port);

    // Assess
    await assert.rejects(listening, (err: unknown) => {
      assert.ok(err instanceof HealthApiListenError);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${api.port}.*Fix:`));
      return true;
    });
  });
});

describe('health API mutating endpoints', () => {
  function recorder(result: MutationResult = { status: 200, message: 'switched over to node2' }) {
    const switchovers: SwitchoverArgs[] = [];
    const failovers: { candidate: string }[] = [];
    return {
      switchovers,
      failovers,
      onSwitchover: async (req: SwitchoverArgs) => {
        switchovers.push(req);
        return result;
      },
      onFailover: async (req: { candidate: string }) => {
        failovers.push(req);
        return { status: 200, message: `failed over to ${req.candidate}` };
      },
    };
  }

  const post = (port: number, path: string, body: string, headers: Record<string, string> = { Authorization: basic('admin', 's3cret') }) =>
    call(port, 'POST', path, { body, headers: { 'Content-Type': 'application/json', ...headers } });

  function failsafeRecorder(answer: MutationResult = { status: 200, message: 'no promotion for 10.0 s' }) {
    const asks: unknown[] = [];
    const refused: string[] = [];
    return {
      asks,
      refused,
      onFailsafe: (req: unknown) => {
        asks.push(req);
        return answer;
      },
      onRefused: (what: string, status: number, why: string) => void refused.push(`${what} ${status}: ${why}`),
    };
  }

  test('POST /failsafe with the right credentials passes the parsed call and answers its status', async (t) => {
    // Prepare
    const rec = failsafeRecorder({ status: 409, message: 'this member holds a lease or runs as a primary' });
    const api = await startApi(t, primary(), rec);

    // Act
    const r = await post(api.port, '/failsafe', JSON.stringify({ holder: 'node1', term: 4, durationMs: 10000 }));

    // Assess
    assert.equal(r.status, 409, r.body);
    assert.deepEqual(json(r), { message: 'this member holds a lease or runs as a primary' });
    assert.deepEqual(rec.asks, [{ holder: 'node1', term: 4, durationMs: 10000 }]);
  });

  const badFailsafe: [string, string, Record<string, string> | undefined, number, RegExp][] = [
    ['without credentials', '{"holder":"node1","term":4,"durationMs":10000}', {}, 401, /authentication required/],
    ['with a wrong password', '{"holder":"node1","term":4,"durationMs":10000}', { Authorization: basic('admin', 'nope') }, 401, /wrong username or password/],
    ['with a term that is no integer', '{"holder":"node1","term":"4","durationMs":10000}', undefined, 400, /"term"/],
    ['with a promise of an hour', '{"holder":"node1","term":4,"durationMs":3600000}', undefined, 400, /"durationMs"/],
    ['with a holder that is no member name', '{"holder":"a b; DROP","term":4,"durationMs":10000}', undefined, 400, /"holder"/],
  ];
  for (const [why, body, headers, code, field] of badFailsafe) {
    test(`POST /failsafe ${why} answers ${code}, is logged, and promises nothing`, async (t) => {
      // Prepare
      const rec = failsafeRecorder();
      const api = await startApi(t, primary(), rec);

      // Act
      const r = await post(api.port, '/failsafe', body, headers);

      // Assess
      assert.equal(r.status, code, r.body);
      assert.match((json(r) as { error: string }).error, field);
      assert.deepEqual(rec.asks, []);
      assert.equal(rec.refused.length, 1);
      assert.match(rec.refused[0] ?? '', new RegExp(`^failsafe ${code}: `));
    });
  }

  test('POST /failsafe on an agent without restapi.authentication answers 403', async (t) => {
    const rec = failsafeRecorder();
    const api = await startApi(t, primary(), { ...rec, auth: null });
    const r = await post(api.port, '/failsafe', '{"holder":"node1","term":4,"durationMs":10000}');
    assert.equal(r.status, 403);
    assert.deepEqual(rec.asks, []);
  });

  test('GET /failsafe is not allowed: 405', async (t) => {
    const api = await startApi(t, primary(), failsafeRecorder());
    const r = await call(api.port, 'GET', '/failsafe');
    assert.equal(r.status, 405);
  });

  test('POST /restart passes Patroni\'s conditions parsed; an unknown field such as timeout is refused naming it', async (t) => {
    // Prepare
    const restarts: unknown[] = [];
    const api = await startApi(t, primary(), {
      onRestart: async (req) => {
        restarts.push(req);
        return { status: 202, message: 'restart scheduled' };
      },
    });
    // Act
    const scheduled = await post(api.port, '/restart', JSON.stringify({ role: 'master', restart_pending: true, schedule: '2030-01-31T02:00:00Z' }));
    const empty = await post(api.port, '/restart', '');
    const timeout = await post(api.port, '/restart', '{"timeout":30}');
    const badRole = await post(api.port, '/restart', '{"role":"boss"}');
    // Assess
    assert.equal(scheduled.status, 202, scheduled.body);
    assert.equal(empty.status, 202, empty.body);
    assert.deepEqual(restarts, [{ role: 'primary', pendingOnly: true, scheduledAt: Date.parse('2030-01-31T02:00:00Z') }, {}]);
    assert.equal(timeout.status, 400);
    assert.match(timeout.body, /timeout/);
    assert.equal(badRole.status, 400);
    assert.match(badRole.body, /role/);
  });

  test('DELETE /restart cancels, POST /reload and /reinitialize call their handlers, and all need credentials', async (t) => {
    // Prepare
    const calls: string[] = [];
    const api = await startApi(t, replica(), {
      onCancelRestart: async () => (calls.push('cancel'), { status: 404, message: 'no restart is scheduled' }),
      onReload: async () => (calls.push('reload'), { status: 200, message: 'reloaded' }),
      onReinitialize: async () => (calls.push('reinit'), { status: 202, message: 'started' }),
    });
    // Act
    const cancel = await call(api.port, 'DELETE', '/restart', { headers: { Authorization: basic('admin', 's3cret') } });
    const reload = await post(api.port, '/reload', '');
    const reinit = await post(api.port, '/reinitialize', '{"force":true}');
    const anonymous = await post(api.port, '/reinitialize', '{}', {});
    const getRestart = await call(api.port, 'GET', '/restart');
    // Assess
    assert.deepEqual([cancel.status, reload.status, reinit.status], [404, 200, 202]);
    assert.deepEqual(calls, ['cancel', 'reload', 'reinit']);
    assert.equal(anonymous.status, 401);
    assert.equal(getRestart.status, 405);
    assert.equal(getRestart.headers['allow'], 'POST, DELETE');
  });

  test('POST /switchover without credentials answers 401 with a Basic challenge and calls nothing', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), rec);

    // Act
    const r = await post(api.port, '/switchover', '{"leader":"node1"}', {});

    // Assess
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Basic realm="pgfloat"');
    assert.equal(rec.switchovers.length, 0);
  });

  test('POST /switchover with a wrong password or user answers 401 and calls nothing', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), rec);

    // Act
    const wrongPassword = await post(api.port, '/switchover', '{"leader":"node1"}', { Authorization: basic('admin', 's3cre') });
    const wrongUser = await post(api.port, '/switchover', '{"leader":"node1"}', { Authorization: basic('root', 's3cret') });
    const notBasic = await post(api.port, '/switchover', '{"leader":"node1"}', { Authorization: 'Bearer s3cret' });

    // Assess
    for (const r of [wrongPassword, wrongUser, notBasic]) {
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'], 'Basic realm="pgfloat"');
    }
    assert.equal(rec.switchovers.length, 0);
  });

  test('POST /switchover with the right credentials calls the handler with the parsed request and answers its status', async (t) => {
    // Prepare
    const rec = recorder({ status: 202, message: 'switchover scheduled' });
    const api = await startApi(t, primary(), rec);

    // Act
    const r = await post(api.port, '/switchover', JSON.stringify({ leader: 'node1', candidate: 'node2', scheduled_at: '2030-01-31T02:00+01' }));

    // Assess
    assert.equal(r.status, 202, r.body);
    assert.deepEqual(json(r), { message: 'switchover scheduled' });
    assert.deepEqual(rec.switchovers, [{ leader: 'node1', candidate: 'node2', scheduledAt: Date.parse('2030-01-31T01:00:00Z') }]);
  });

  test('POST /switchover with only a leader passes no candidate and no schedule', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), rec);

    // Act
    const r = await post(api.port, '/switchover', '{"leader":"node1","candidate":null}');

    // Assess
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(rec.switchovers, [{ leader: 'node1' }]);
  });

  test('POST /switchover with a body that is not JSON answers 400 and calls nothing', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), rec);

    // Act
    const r = await post(api.port, '/switchover', '{"leader": node1}');

    // Assess
    assert.equal(r.status, 400);
    assert.match(String(json(r)['error']), /request body: not valid JSON/);
    assert.equal(rec.switchovers.length, 0);
  });

  test('POST /switchover with an invalid field answers 400 naming the field', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), rec);

    // Act
    const badCandidate = await post(api.port, '/switchover', '{"leader":"node1","candidate":5}');
    const badTime = await post(api.port, '/switchover', '{"leader":"node1","scheduled_at":"2030-01-31 02:00"}');
    const notObject = await post(api.port, '/switchover', '["node1"]');

    // Assess
    assert.equal(badCandidate.status, 400);
    assert.match(String(json(badCandidate)['error']), /field "candidate"/);
    assert.equal(badTime.status, 400);
    assert.match(String(json(badTime)['error']), /field "scheduled_at".*zone/);
    assert.equal(notObject.status, 400);
    assert.match(String(json(notObject)['error']), /expected a JSON object/);
    assert.equal(rec.switchovers.length, 0);
  });

  test('POST /switchover with a body over 64 KiB answers 413, declared or streamed', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), rec);
    const big = JSON.stringify({ leader: 'node1', padding: 'x'.repeat(64 * 1024) });
    const headers = { Authorization: basic('admin', 's3cret') };

    // Act
    const declared = await call(api.port, 'POST', '/switchover', { body: big, headers });
    const streamed = await call(api.port, 'POST', '/switchover', { body: big, headers, chunked: true });

    // Assess
    assert.equal(declared.status, 413);
    assert.equal(streamed.status, 413);
    assert.match(String(json(streamed)['error']), /larger than 65536 bytes/);
    assert.equal(rec.switchovers.length, 0);
  });

  test('mutating endpoints answer 403 when no credentials are configured, even to a Basic header', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), { ...rec, auth: null });

    // Act
    const switchover = await post(api.port, '/switchover', '{"leader":"node1"}');
    const failover = await post(api.port, '/failover', '{"candidate":"node2"}', {});

    // Assess
    assert.equal(switchover.status, 403);
    assert.match(String(json(switchover)['error']), /set restapi.authentication/);
    assert.equal(failover.status, 403);
    assert.equal(rec.switchovers.length + rec.failovers.length, 0);
  });

  test('POST /failover calls the failover handler with the candidate; with a leader it is a switchover', async (t) => {
    // Prepare
    const rec = recorder();
    const api = await startApi(t, primary(), rec);

    // Act
    const failover = await post(api.port, '/failover', '{"candidate":"node3"}');
    const asSwitchover = await post(api.port, '/failover', '{"candidate":"node2","leader":"node1"}');
    const noCandidate = await post(api.port, '/failover', '{}');

    // Assess
    assert.equal(failover.status, 200);
    assert.deepEqual(json(failover), { message: 'failed over to node3' });
    assert.deepEqual(rec.failovers, [{ candidate: 'node3' }]);
    assert.equal(asSwitchover.status, 200);
    assert.deepEqual(rec.switchovers, [{ leader: 'node1', candidate: 'node2' }]);
    assert.equal(noCandidate.status, 400);
    assert.match(String(json(noCandidate)['error']), /field "candidate"/);
  });

  test('a missing handler answers 501 and a throwing one 503 with its message', async (t) => {
    // Prepare
    const api = await startApi(t, primary(), {
      onSwitchover: async () => {
        throw new Error('no healthy candidate');
      },
    });

    // Act
    const missing = await post(api.port, '/failover', '{"candidate":"node2"}');
    const throwing = await post(api.port, '/switchover', '{"leader":"node1"}');
    const still = await call(api.port, 'GET', '/primary');

    // Assess
    assert.equal(missing.status, 501);
    assert.equal(throwing.status, 503);
    assert.match(String(json(throwing)['error']), /switchover failed: no healthy candidate/);
    assert.equal(still.status, 200);
  });
});

describe('health API parsing', () => {
  test('lags are read in bytes or Patroni units, and anything else is refused', () => {
    // Prepare
    const cases: [string, number | null][] = [
      ['1048576', MB],
      ['1024kB', MB],
      ['16MB', 16 * MB],
      ['1GB', 1024 * MB],
      ['1 TB', 1024 * 1024 * MB],
      ['0.5MB', MB / 2],
      ['100B', 100],
      ['fast', null],
      ['-1', null],
      ['10 parsecs', null],
      ['', null],
    ];

    // Act
    const got = cases.map(([text]) => parseLagBytes(text));

    // Assess
    assert.deepEqual(got, cases.map(([, want]) => want));
  });

  test('scheduled times need a zone, in the forms Patroni takes', () => {
    // Prepare
    const at = Date.parse('2030-01-31T02:00:00Z');

    // Act
    const got = ['2030-01-31T02:00:00Z', '2030-01-31T03:00+01', '2030-01-31T03:00:00+0100', '2030-01-31 03:00:00+01:00', '2030-01-31T02:00', 'tomorrow'].map(parseZonedTime);

    // Assess
    assert.deepEqual(got, [at, at, at, at, null, null]);
  });

  test('Basic credentials are told apart as missing, wrong or right', () => {
    // Prepare
    const expected = { username: 'admin', password: 'pa:ss' };

    // Act
    const outcomes = [undefined, '', basic('admin', 'pa:ss'), basic('admin', 'pa:s'), basic('admin', 'pa:ss') + 'x', 'Basic', 'Basic !!!!'].map((h) =>
      checkBasicAuth(h, expected),
    );

    // Assess
    assert.deepEqual(outcomes, ['missing', 'missing', 'ok', 'wrong', 'wrong', 'wrong', 'wrong']);
  });
});
