// One cluster tick against DynamoDB Local, with endpoint movers the test
// records: what the shell does beside the rules' actions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { moverCache } from '../../lib/arbiter/movers.js';
import { systemClock, tickCluster, type Log, type TickDeps } from '../../lib/arbiter/tick.js';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { DEFAULT_CONFIG, type EndpointConfig, type MemberStatus } from '../../lib/dcs/items.js';
import { clusterPk, type ClusterId } from '../../lib/dcs/keys.js';
import type { EndpointMover } from '../../lib/endpoint/mover.js';
import { freshTable, type TestTable } from '../support/dynamodb.js';

let table: TestTable;
let store: DynamoDbStore;
before(async () => {
  table = await freshTable();
  store = new DynamoDbStore({ client: table.client, tableName: table.tableName });
});
after(async () => table.close());

const quiet: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const proxyEndpoint: EndpointConfig = { kind: 'local-proxy', host: '127.0.0.1', port: 1 };

function status(name: string, role: MemberStatus['role']): MemberStatus {
  return {
    name,
    role,
    state: 'running',
    timeline: 1,
    lsn: 1000,
    replayLsn: role === 'replica' ? 1000 : null,
    tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
    connUrl: `postgres://127.0.0.1:1${name === 'a' ? 1 : 2}/postgres`,
    apiUrl: 'http://127.0.0.1:1/patroni',
    systemId: '7300000000000000001',
    heartbeatAt: Date.now(),
  };
}

/** Ticks with a fresh mover cache (so the tick looks at the endpoint) whose movers record each config asked for. */
async function tickRecordingMovers(c: ClusterId): Promise<{ asked: EndpointConfig[]; malformed: readonly string[] }> {
  const asked: EndpointConfig[] = [];
  const record = (config: EndpointConfig): EndpointMover => {
    asked.push(config);
    return { kind: config.kind, move: async () => ({ target: 'x' }), pointsAt: async () => true };
  };
  const deps: TickDeps = { store, movers: moverCache({}, record), clock: systemClock, log: quiet, arbiterId: 'shard-t', leaseMs: 10_000, stepTimeoutMs: 2000 };
  const out = await tickCluster(deps, c);
  return { asked, malformed: out.malformed.map((e) => e.key) };
}

describe('cluster tick', () => {
  test('a malformed config never swaps the endpoint mover of a led cluster for the default one', async () => {
    // Prepare: a led cluster whose endpoint record names its leader
    const c: ClusterId = { namespace: 'tick', scope: `c-${process.pid}` };
    await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
    await store.putConfig(c, { ...DEFAULT_CONFIG, endpoint: proxyEndpoint }, null);
    await store.heartbeat(c, status('a', 'primary'), null);
    await store.heartbeat(c, status('b', 'replica'), null);
    await store.grantLeader(c, { holder: 'a', expected: null, previous: null, lastLsn: 1000, timeline: 1, reason: 'bootstrap', kind: 'bootstrap', grantedAt: Date.now() });
    await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: 1000, timeline: 1 });
    await store.recordEndpoint(c, { member: 'a', term: 1, target: '127.0.0.1:11', movedAt: Date.now() });
    const wellFormed = await tickRecordingMovers(c);
    await table.client.send(
      new PutItemCommand({ TableName: table.tableName, Item: marshall({ pk: clusterPk(c), sk: 'config', config: { ttl: 'ten' }, version: 2 }) }),
    );
    // Act
    const malformed = await tickRecordingMovers(c);
    // Assess: the well-formed tick looked at the endpoint through its mover; the malformed one asked for none
    assert.deepEqual(wellFormed, { asked: [proxyEndpoint], malformed: [] });
    assert.deepEqual(malformed, { asked: [], malformed: ['config'] });
  });
});
