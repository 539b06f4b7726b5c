// The store contract, run against every implementation (DynamoDB Local and
// the in-memory twin): success, lost race and malformed item for each operation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONFIG, type ClusterConfig, type MemberStatus } from '../../lib/dcs/items.js';
import { clusterPk, historyPk, historySk, memberSk, type ClusterId } from '../../lib/dcs/keys.js';
import { InvalidWriteError, MalformedItemError } from '../../lib/dcs/errors.js';
import type { Grant, Store } from '../../lib/dcs/store.js';

export interface ContractSubject {
  readonly store: Store;
  /** Writes an item bypassing validation, as a buggy or foreign writer would. */
  putRaw(key: { pk: string; sk: string }, item: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

let counter = 0;
export function newCluster(): ClusterId {
  counter += 1;
  return { namespace: 'contract', scope: `c${counter}-${process.pid}` };
}

export function member(name: string, over: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name,
    role: 'replica',
    state: 'running',
    timeline: 1,
    lsn: 1000,
    replayLsn: 1000,
    tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
    connUrl: `postgres://127.0.0.1:5432/postgres`,
    apiUrl: `http://127.0.0.1:8008`,
    systemId: '7300000000000000001',
    heartbeatAt: 1_700_000_000_000,
    ...over,
  };
}

export function grant(holder: string, expected: Grant['expected'], over: Partial<Grant> = {}): Grant {
  return {
    holder,
    expected,
    previous: null,
    lastLsn: 5000,
    timeline: 1,
    reason: `test grant to ${holder}`,
    kind: 'failover',
    grantedAt: 1_700_000_000_000,
    ...over,
  };
}

const config = (over: Partial<ClusterConfig> = {}): ClusterConfig => ({ ...DEFAULT_CONFIG, ...over });

export function storeContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`store contract: ${name}`, () => {
    let s: ContractSubject;
    before(async () => {
      s = await make();
    });
    after(async () => s.close());
    const subject = async (): Promise<ContractSubject> => s;

    describe('readCluster', () => {
      test('reads an empty cluster as all absent', async () => {
        // Prepare
        const { store } = await subject();
        // Act
        const snap = await store.readCluster(newCluster());
        // Assess
        assert.equal(snap.leader, null);
        assert.equal(snap.config, null);
        assert.equal(snap.initialize, null);
        assert.deepEqual(snap.members, []);
      });

      test('returns every item with its version, members sorted, deeply frozen', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
        await store.putConfig(c, config({ paused: true }), null);
        await store.heartbeat(c, member('b'), null);
        await store.heartbeat(c, member('a'), null);
        await store.grantLeader(c, grant('a', null));
        await store.setFailover(c, { kind: 'switchover', from: 'a', to: 'b', requestedAt: 1, requestedBy: 't' }, null);
        await store.putSync(c, { leader: 'a', term: 1, standbys: ['b'] }, null);
        await store.putArbiter(c, { owner: 'arb', leaseExpiresAt: 10, leader: null, members: {} }, null);
        await store.recordEndpoint(c, { member: 'a', term: 1, target: 'eni-1', movedAt: 5 });
        // Act
        const snap = await store.readCluster(c);
        // Assess
        assert.equal(snap.initialize?.systemId, '7300000000000000001');
        assert.equal(snap.config?.config.paused, true);
        assert.deepEqual(
          snap.members.map((m) => [m.name, m.version]),
          [
            ['a', 1],
            ['b', 1],
          ],
        );
        assert.equal(snap.leader?.holder, 'a');
        assert.equal(snap.leader?.version, 1);
        assert.equal(snap.failover?.request.to, 'b');
        assert.deepEqual(snap.sync?.standbys, ['b']);
        assert.equal(snap.arbiter?.owner, 'arb');
        assert.equal(snap.endpoint?.member, 'a');
        assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.members[0]) && Object.isFrozen(snap.members[0]?.tags));
        assert.throws(() => {
          (snap.leader as { term: number }).term = 99;
        }, TypeError);
      });

      test('a malformed member item fails the read, naming cluster, key and field', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await store.heartbeat(c, member('a'), null);
        await putRaw({ pk: clusterPk(c), sk: memberSk('b') }, { ...member('b'), lsn: 'lots', version: 1 });
        // Act
        const read = store.readCluster(c);
        // Assess
        await assert.rejects(read, (err: unknown) => {
          assert.ok(err instanceof MalformedItemError);
          assert.equal(err.key, 'member#b');
          assert.equal(err.field, 'lsn');
          assert.match(err.message, new RegExp(`cluster ${clusterPk(c)}, key member#b, field lsn`));
          return true;
        });
      });

      test('a leader item with an unknown phase fails the read instead of reading as absent', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw(
          { pk: clusterPk(c), sk: 'leader' },
          { holder: 'a', term: 1, phase: 'reigning', lastLsn: 1, timeline: 1, previous: null, reason: 'x', version: 1 },
        );
        // Act + Assess
        await assert.rejects(store.readCluster(c), (err: unknown) => err instanceof MalformedItemError && err.field === 'phase');
      });
    });

    describe('initialize', () => {
      test('the first writer wins and the second gets the winner back', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const first = await store.initialize(c, { systemId: '111', initializedBy: 'a' });
        const second = await store.initialize(c, { systemId: '222', initializedBy: 'b' });
        // Assess
        assert.equal(first.ok, true);
        assert.deepEqual(second, { ok: false, current: { systemId: '111', initializedBy: 'a', version: 1 } });
      });

      test('the winner records the system identifier afterwards with CAS on its version', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.initialize(c, { initializedBy: 'a' });
        // Act
        const stale = await store.initialize(c, { initializedBy: 'b', systemId: '222' }, 7);
        const recorded = await store.initialize(c, { initializedBy: 'a', systemId: '111' }, 1);
        // Assess
        assert.deepEqual(!stale.ok && stale.current, { initializedBy: 'a', version: 1 });
        assert.deepEqual(recorded.ok && recorded.item, { initializedBy: 'a', systemId: '111', version: 2 });
        assert.equal((await store.readCluster(c)).initialize?.systemId, '111');
      });

      test('refuses a system identifier that is not digits, writing nothing', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const write = store.initialize(c, { systemId: 'abc', initializedBy: 'a' });
        // Assess
        await assert.rejects(write, (err: unknown) => err instanceof InvalidWriteError && err.field === 'systemId');
        assert.equal((await store.readCluster(c)).initialize, null);
      });

      test('a malformed existing initialize item is reported, not overwritten', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: clusterPk(c), sk: 'initialize' }, { systemId: 42, version: 1 });
        // Act + Assess
        await assert.rejects(store.initialize(c, { systemId: '1', initializedBy: 'a' }), MalformedItemError);
      });
    });

    describe('config', () => {
      test('puts with CAS on the version and reports the winner of a lost race', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const created = await store.putConfig(c, config(), null);
        const duplicate = await store.putConfig(c, config({ ttl: 20 }), null);
        const updated = await store.putConfig(c, config({ ttl: 30 }), 1);
        const stale = await store.putConfig(c, config({ ttl: 40 }), 1);
        // Assess
        assert.equal(created.ok && created.item.version, 1);
        assert.equal(duplicate.ok, false);
        assert.equal(!duplicate.ok && duplicate.current?.config.ttl, 10);
        assert.equal(updated.ok && updated.item.config.ttl, 30);
        assert.equal(!stale.ok && stale.current?.version, 2);
        assert.equal((await store.getConfig(c))?.config.ttl, 30);
      });

      test('refuses a config whose ttl is shorter than loopWait + 2 * retryTimeout, naming ttl', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const write = store.putConfig(c, config({ ttl: 5, loopWait: 2, retryTimeout: 4 }), null);
        // Assess
        await assert.rejects(write, (err: unknown) => err instanceof InvalidWriteError && /field config\.ttl.*raise ttl/.test(err.message));
        assert.equal(await store.getConfig(c), null);
      });

      test('getConfig reports a malformed config item', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: clusterPk(c), sk: 'config' }, { config: { ttl: 'ten' }, version: 1 });
        // Act + Assess
        await assert.rejects(store.getConfig(c), (err: unknown) => err instanceof MalformedItemError && err.field === 'config.ttl');
      });
    });

    describe('members', () => {
      test('a heartbeat creates, then updates with CAS, bumping the version', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const first = await store.heartbeat(c, member('a', { lsn: 1 }), null);
        const second = await store.heartbeat(c, member('a', { lsn: 2 }), 1);
        const stale = await store.heartbeat(c, member('a', { lsn: 3 }), 1);
        // Assess
        assert.equal(first.ok && first.item.version, 1);
        assert.equal(second.ok && second.item.version, 2);
        assert.equal(!stale.ok && stale.current?.lsn, 2);
      });

      test('refuses a heartbeat with a negative LSN, naming the field', async () => {
        // Prepare
        const { store } = await subject();
        // Act + Assess
        await assert.rejects(
          store.heartbeat(newCluster(), member('a', { lsn: -1 }), null),
          (err: unknown) => err instanceof InvalidWriteError && err.field === 'lsn',
        );
      });

      test('removes a member only at the version read', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.heartbeat(c, member('a'), null);
        await store.heartbeat(c, member('a'), 1);
        // Act
        const stale = await store.removeMember(c, 'a', 1);
        const removed = await store.removeMember(c, 'a', 2);
        const gone = await store.removeMember(c, 'a', 2);
        // Assess
        assert.equal(!stale.ok && stale.current?.version, 2);
        assert.deepEqual(removed, { ok: true, item: null });
        assert.deepEqual(gone, { ok: false, current: null });
        assert.deepEqual((await store.readCluster(c)).members, []);
      });
    });

    describe('leader', () => {
      test('a grant on absence starts at term 1 and writes the history row', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const r = await store.grantLeader(c, grant('a', null, { kind: 'bootstrap', reason: 'bootstrap' }));
        // Assess
        assert.equal(r.ok, true);
        assert.deepEqual(r.ok && { term: r.item.term, version: r.item.version, phase: r.item.phase }, { term: 1, version: 1, phase: 'granted' });
        const history = await store.listHistory(c);
        assert.deepEqual(
          history.map((h) => [h.term, h.kind, h.to]),
          [[1, 'bootstrap', 'a']],
        );
      });

      test('a grant on a stale observation loses and returns the current leader', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('a', null));
        // Act
        const late = await store.grantLeader(c, grant('b', null));
        const next = await store.grantLeader(c, grant('b', { version: 1, term: 1 }, { previous: 'a' }));
        const stale = await store.grantLeader(c, grant('c', { version: 1, term: 1 }));
        // Assess
        assert.equal(!late.ok && late.current?.holder, 'a');
        assert.deepEqual(next.ok && [next.item.holder, next.item.term, next.item.version, next.item.previous], ['b', 2, 2, 'a']);
        assert.equal(!stale.ok && stale.current?.holder, 'b');
        assert.deepEqual(
          (await store.listHistory(c)).map((h) => [h.term, h.to]),
          [
            [1, 'a'],
            [2, 'b'],
          ],
        );
      });

      test('renew by the holder bumps the version and carries LSN and timeline; a stale term fails', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('a', null));
        await store.grantLeader(c, grant('a', { version: 1, term: 1 }));
        // Act
        const renewed = await store.renewLeader(c, { holder: 'a', term: 2, lastLsn: 9000, timeline: 2 });
        const staleTerm = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 9100, timeline: 2 });
        const notHolder = await store.renewLeader(c, { holder: 'b', term: 2, lastLsn: 9100, timeline: 2 });
        // Assess
        assert.deepEqual(renewed.ok && [renewed.item.version, renewed.item.lastLsn, renewed.item.timeline, renewed.item.phase], [3, 9000, 2, 'granted']);
        assert.equal(!staleTerm.ok && staleTerm.current?.version, 3);
        assert.equal(!notHolder.ok && notHolder.current?.holder, 'a');
      });

      test('renew with no leader item returns a lost race with nothing current', async () => {
        // Prepare
        const { store } = await subject();
        // Act
        const r = await store.renewLeader(newCluster(), { holder: 'a', term: 1, lastLsn: 1, timeline: 1 });
        // Assess
        assert.deepEqual(r, { ok: false, current: null });
      });

      test('confirm moves granted to active once', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('a', null));
        // Act
        const confirmed = await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: 6000, timeline: 2 });
        const again = await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: 6000, timeline: 2 });
        // Assess
        assert.deepEqual(confirmed.ok && [confirmed.item.phase, confirmed.item.version, confirmed.item.timeline], ['active', 2, 2]);
        assert.equal(!again.ok && again.current?.phase, 'active');
      });

      test('a switchover hands over: active, handover to a candidate, demoted with the final LSN', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('a', null));
        await store.confirmLeader(c, { holder: 'a', term: 1, lastLsn: 1, timeline: 1 });
        // Act
        const stale = await store.beginHandover(c, { expected: { version: 1, term: 1 }, candidate: 'b' });
        const begun = await store.beginHandover(c, { expected: { version: 2, term: 1 }, candidate: 'b' });
        const wrongHolder = await store.completeHandover(c, { holder: 'b', term: 1, finalLsn: 7777 });
        const done = await store.completeHandover(c, { holder: 'a', term: 1, finalLsn: 7777 });
        // Assess
        assert.equal(!stale.ok && stale.current?.version, 2);
        assert.deepEqual(begun.ok && [begun.item.phase, begun.item.candidate], ['handover', 'b']);
        assert.equal(wrongHolder.ok, false);
        assert.deepEqual(done.ok && [done.item.phase, done.item.finalLsn, done.item.lastLsn, done.item.version], ['demoted', 7777, 7777, 4]);
      });

      test('release by the holder keeps the term; a non-holder cannot release; a grant follows at once', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('a', null));
        // Act
        const byOther = await store.releaseLeader(c, { holder: 'b', term: 1, lastLsn: 1 });
        const released = await store.releaseLeader(c, { holder: 'a', term: 1, lastLsn: 4242 });
        const renewAfter = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 1, timeline: 1 });
        const next = await store.grantLeader(c, grant('b', { version: 2, term: 1 }));
        // Assess
        assert.equal(!byOther.ok && byOther.current?.phase, 'granted');
        assert.deepEqual(released.ok && [released.item.phase, released.item.term, released.item.lastLsn], ['released', 1, 4242]);
        assert.equal(renewAfter.ok, false);
        assert.deepEqual(next.ok && [next.item.holder, next.item.term], ['b', 2]);
      });

      test('an update never lands on a malformed leader item', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw(
          { pk: clusterPk(c), sk: 'leader' },
          { holder: 'a', term: 1, phase: 'reigning', lastLsn: 1, timeline: 1, previous: null, reason: 'x', version: 1 },
        );
        // Act
        const renew = store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 2, timeline: 1 });
        // Assess
        await assert.rejects(renew, MalformedItemError);
        await assert.rejects(store.readCluster(c), (err: unknown) => err instanceof MalformedItemError && err.field === 'phase');
      });
    });

    describe('failover request', () => {
      test('set and clear with CAS', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        const request = { kind: 'failover' as const, to: 'b', requestedAt: 1, requestedBy: 'cli' };
        // Act
        const set = await store.setFailover(c, request, null);
        const again = await store.setFailover(c, { ...request, to: 'c' }, null);
        const staleClear = await store.clearFailover(c, 7);
        const cleared = await store.clearFailover(c, 1);
        // Assess
        assert.equal(set.ok, true);
        assert.equal(!again.ok && again.current?.request.to, 'b');
        assert.equal(!staleClear.ok && staleClear.current?.version, 1);
        assert.deepEqual(cleared, { ok: true, item: null });
        assert.equal((await store.readCluster(c)).failover, null);
      });

      test('refuses a failover without a candidate, naming the field', async () => {
        // Prepare
        const { store } = await subject();
        // Act + Assess
        await assert.rejects(
          store.setFailover(newCluster(), { kind: 'failover', requestedAt: 1, requestedBy: 'cli' }, null),
          (err: unknown) => err instanceof InvalidWriteError && err.field === 'request.to',
        );
      });
    });

    describe('sync, arbiter', () => {
      test('sync state is written with CAS', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const first = await store.putSync(c, { leader: 'a', term: 1, standbys: ['b'] }, null);
        const second = await store.putSync(c, { leader: 'a', term: 1, standbys: ['b', 'c'] }, 1);
        const stale = await store.putSync(c, { leader: 'a', term: 1, standbys: [] }, 1);
        // Assess
        assert.equal(first.ok, true);
        assert.deepEqual(second.ok && second.item.standbys, ['b', 'c']);
        assert.deepEqual(!stale.ok && stale.current?.standbys, ['b', 'c']);
      });

      test('the arbiter item is written with CAS and keeps its observations', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        const state = { owner: 'x', leaseExpiresAt: 1000, leader: { term: 1, version: 4, seenAt: 900 }, members: { a: { version: 2, seenAt: 800 } } };
        // Act
        const first = await store.putArbiter(c, state, null);
        const rival = await store.putArbiter(c, { ...state, owner: 'y' }, null);
        // Assess
        assert.equal(first.ok, true);
        assert.equal(!rival.ok && rival.current?.owner, 'x');
        assert.deepEqual((await store.readCluster(c)).arbiter?.members, { a: { version: 2, seenAt: 800 } });
      });
    });

    describe('history', () => {
      test('appends once per term, records each step once, lists by term', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        const entry = { term: 2, kind: 'failover' as const, from: 'a', to: 'b', reason: 'r', lsn: 1, timeline: 2, grantedAt: 10 };
        // Act
        const appended = await store.appendHistory(c, entry);
        const duplicate = await store.appendHistory(c, { ...entry, to: 'c' });
        await store.appendHistory(c, { ...entry, term: 1, to: 'a', from: null });
        const step = await store.recordHistoryStep(c, 2, 'promotedAt', 20);
        const stepAgain = await store.recordHistoryStep(c, 2, 'promotedAt', 30);
        const missing = await store.recordHistoryStep(c, 9, 'promotedAt', 30);
        // Assess
        assert.equal(appended.ok, true);
        assert.equal(!duplicate.ok && duplicate.current?.to, 'b');
        assert.equal(step.ok && step.item.promotedAt, 20);
        assert.equal(!stepAgain.ok && stepAgain.current?.promotedAt, 20);
        assert.deepEqual(missing, { ok: false, current: null });
        assert.deepEqual(
          (await store.listHistory(c)).map((h) => h.term),
          [1, 2],
        );
      });

      test('a malformed history row is reported when listing', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: historyPk(c), sk: historySk(3) }, { term: 3, kind: 'coup', version: 1 });
        // Act + Assess
        await assert.rejects(store.listHistory(c), MalformedItemError);
      });
    });

    describe('endpoint', () => {
      test('the endpoint term only moves forward', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        // Act
        const first = await store.recordEndpoint(c, { member: 'a', term: 2, target: 'eni-a', movedAt: 1 });
        const same = await store.recordEndpoint(c, { member: 'a', term: 2, target: 'eni-a', movedAt: 2 });
        const older = await store.recordEndpoint(c, { member: 'b', term: 1, target: 'eni-b', movedAt: 3 });
        const sameTermOther = await store.recordEndpoint(c, { member: 'b', term: 2, target: 'eni-b', movedAt: 3 });
        const newer = await store.recordEndpoint(c, { member: 'b', term: 3, target: 'eni-b', movedAt: 4 });
        // Assess
        assert.equal(first.ok && first.item.version, 1);
        assert.equal(same.ok && same.item.version, 2);
        assert.deepEqual(!older.ok && [older.current?.member, older.current?.term], ['a', 2]);
        assert.equal(sameTermOther.ok, false);
        assert.deepEqual(newer.ok && [newer.item.member, newer.item.term, newer.item.version], ['b', 3, 3]);
      });
    });

    describe('clusters', () => {
      test('lists clusters and deletes one with its history', async () => {
        // Prepare
        const { store } = await subject();
        const c1 = newCluster();
        const c2 = newCluster();
        await store.putConfig(c1, config(), null);
        await store.grantLeader(c1, grant('a', null));
        await store.heartbeat(c1, member('a'), null);
        await store.initialize(c2, { systemId: '1', initializedBy: 'x' });
        // Act
        const before = await store.listClusters();
        const deleted = await store.deleteCluster(c1);
        const after = await store.listClusters();
        // Assess
        const has = (list: readonly ClusterId[], c: ClusterId): boolean => list.some((x) => x.scope === c.scope && x.namespace === c.namespace);
        assert.ok(has(before, c1) && has(before, c2));
        assert.equal(deleted, 4);
        assert.ok(!has(after, c1) && has(after, c2));
        assert.deepEqual(await store.listHistory(c1), []);
      });
    });

    describe('races', () => {
      test('20 concurrent grants on the same observed version give exactly one winner at term + 1', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('seed', null));
        await store.releaseLeader(c, { holder: 'seed', term: 1, lastLsn: 1 });
        const observed = { version: 2, term: 1 };
        // Act
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.grantLeader(c, grant(`m${i}`, observed))));
        // Assess
        const winners = results.filter((r) => r.ok);
        assert.equal(winners.length, 1);
        const leader = (await store.readCluster(c)).leader;
        assert.equal(leader?.term, 2);
        assert.equal(winners[0]?.ok && winners[0].item.holder, leader?.holder);
        for (const r of results) if (!r.ok) assert.equal(r.current?.holder, leader?.holder);
      });
    });
  });
}
