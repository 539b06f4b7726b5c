// The store contract, run against every implementation (DynamoDB Local and
// the in-memory twin): success, lost race and malformed item for each operation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONFIG, type ClusterConfig, type MemberStatus } from '../../lib/dcs/items.js';
import { clusterPk, historyPk, historySk, memberSk, type ClusterId } from '../../lib/dcs/keys.js';
import { InvalidWriteError, MalformedItemError, StoreInvariantError } from '../../lib/dcs/errors.js';
import { itemSlot } from '../../lib/dcs/snapshot.js';
import type { Grant, ItemKind, Store } from '../../lib/dcs/store.js';

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
    });

    describe('readHead', () => {
      test('reads the singletons that sort before the members, and neither members nor sync', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
        await store.putConfig(c, config({ paused: true }), null);
        for (const n of ['a', 'b', 'c', 'd', 'e']) await store.heartbeat(c, member(n), null);
        await store.grantLeader(c, grant('a', null));
        await store.setFailover(c, { kind: 'switchover', from: 'a', to: 'b', requestedAt: 1, requestedBy: 't' }, null);
        await store.putSync(c, { leader: 'a', term: 1, standbys: ['b'] }, null);
        await store.putArbiter(c, { owner: 'arb', leaseExpiresAt: 10, leader: null, members: {} }, null);
        await store.recordEndpoint(c, { member: 'a', term: 1, target: 'eni-1', movedAt: 5 });
        const whole = await store.readCluster(c);
        // Act
        const head = await store.readHead(c);
        // Assess
        const { members: _m, sync: _s, ...expected } = whole;
        assert.deepEqual(head, expected);
        assert.equal('members' in head || 'sync' in head, false);
        assert.ok(Object.isFrozen(head) && Object.isFrozen(head.leader));
      });

      test('sets a malformed head item aside and lists it; a malformed member is not read', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await store.putConfig(c, config(), null);
        await store.grantLeader(c, grant('a', null));
        await putRaw({ pk: clusterPk(c), sk: 'leader' }, { holder: 'a', term: 1, lastLsn: 1, timeline: 1, previous: null, reason: 'x', phase: 'reigning', version: 3 });
        await putRaw({ pk: clusterPk(c), sk: memberSk('ghost') }, { ...member('ghost'), lsn: 'lots', version: 1 });
        // Act
        const head = await store.readHead(c);
        // Assess
        assert.equal(head.leader, null);
        assert.deepEqual(head.malformed.map((e) => [e.key, e.field]), [['leader', 'phase']]);
        assert.equal(head.config?.version, 1);
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
        // Act
        const write = store.initialize(c, { systemId: '1', initializedBy: 'a' });
        // Assess
        await assert.rejects(write, (err: unknown) => err instanceof MalformedItemError && err.key === 'initialize' && err.field === 'systemId');
        assert.deepEqual((await store.readCluster(c)).malformed.map((e) => e.key), ['initialize']);
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

      test('a grant whose history row already exists is refused with StoreInvariantError and writes no leader', async () => {
        // Prepare: a history row for term 1 with no leader item (a leader item deleted by hand, say)
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: historyPk(c), sk: historySk(1) }, { term: 1, kind: 'bootstrap', from: null, to: 'a', reason: 'bootstrap', lsn: 0, timeline: 1, grantedAt: 1_700_000_000_000, version: 1 });
        // Act
        const attempt = store.grantLeader(c, grant('b', null));
        // Assess
        await assert.rejects(attempt, StoreInvariantError);
        assert.equal((await store.readCluster(c)).leader, null);
        assert.deepEqual((await store.listHistory(c)).map((h) => h.to), ['a']);
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

      test('a renew with a failsafe set stores it, a renew without one keeps it, and the next grant drops it', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('a', null));
        // Act
        const withSet = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 10, timeline: 1, failsafe: ['b', 'c'] });
        const without = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 20, timeline: 1 });
        const emptied = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 30, timeline: 1, failsafe: [] });
        const regranted = await store.grantLeader(c, grant('b', { version: 4, term: 1 }));
        // Assess
        assert.deepEqual(withSet.ok && withSet.item.failsafe, ['b', 'c']);
        assert.deepEqual(without.ok && without.item.failsafe, ['b', 'c']);
        assert.deepEqual(emptied.ok && emptied.item.failsafe, []);
        assert.equal(regranted.ok && regranted.item.failsafe, undefined);
        assert.equal((await store.readCluster(c)).leader?.failsafe, undefined);
      });

      test('a renew saying unfenced stores it, the next renew that does not say it clears it, and a new term never has it', async () => {
        // Prepare
        const { store } = await subject();
        const c = newCluster();
        await store.grantLeader(c, grant('a', null));
        // Act
        const paused = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 10, timeline: 1, unfenced: true });
        const again = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 15, timeline: 1, unfenced: true });
        const resumed = await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 20, timeline: 1 });
        await store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 25, timeline: 1, unfenced: true });
        const regranted = await store.grantLeader(c, grant('b', { version: 5, term: 1 }));
        // Assess
        assert.equal(paused.ok && paused.item.unfenced, true);
        assert.equal(again.ok && again.item.unfenced, true);
        assert.equal(resumed.ok && 'unfenced' in resumed.item, false);
        assert.equal(regranted.ok && 'unfenced' in regranted.item, false);
        assert.equal((await store.readCluster(c)).leader?.unfenced, undefined);
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
        assert.deepEqual(
          (await store.readCluster(c)).malformed.map((e) => [e.key, e.field, e.version]),
          [['leader', 'phase', 1]],
        );
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

      test('a malformed history row is set aside when listing', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await store.appendHistory(c, { term: 1, kind: 'bootstrap', from: null, to: 'a', reason: 'r', lsn: 1, timeline: 1, grantedAt: 10 });
        await putRaw({ pk: historyPk(c), sk: historySk(3) }, { term: 3, kind: 'coup', version: 1 });
        // Act
        const listed = await store.listHistory(c);
        // Assess
        assert.deepEqual(
          listed.map((h) => h.term),
          [1],
        );
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

    describe('malformed items', () => {
      /** A cluster with every kind of item, all well-formed. */
      async function fullCluster(store: Store): Promise<ClusterId> {
        const c = newCluster();
        await store.initialize(c, { systemId: '7300000000000000001', initializedBy: 'a' });
        await store.putConfig(c, config({ paused: true }), null);
        await store.heartbeat(c, member('a'), null);
        await store.heartbeat(c, member('b'), null);
        await store.grantLeader(c, grant('a', null, { kind: 'bootstrap' }));
        await store.setFailover(c, { kind: 'switchover', from: 'a', to: 'b', requestedAt: 1, requestedBy: 't' }, null);
        await store.putSync(c, { leader: 'a', term: 1, standbys: ['b'] }, null);
        await store.putArbiter(c, { owner: 'arb', leaseExpiresAt: 10, leader: null, members: {} }, null);
        await store.recordEndpoint(c, { member: 'a', term: 1, target: 'eni-1', movedAt: 5 });
        return c;
      }

      const leaderRow = { holder: 'a', term: 1, lastLsn: 1, timeline: 1, previous: null, reason: 'x', version: 3 };
      const cases: readonly { kind: ItemKind; sk: string; raw: Record<string, unknown>; field: string; version: number | null }[] = [
        { kind: 'member', sk: memberSk('ghost'), raw: { ...member('ghost'), lsn: 'lots', version: 1 }, field: 'lsn', version: 1 },
        { kind: 'config', sk: 'config', raw: { config: { ttl: 'ten' }, version: 2 }, field: 'config.ttl', version: 2 },
        { kind: 'leader', sk: 'leader', raw: { ...leaderRow, phase: 'reigning' }, field: 'phase', version: 3 },
        { kind: 'initialize', sk: 'initialize', raw: { systemId: 42, version: 1 }, field: 'systemId', version: 1 },
        { kind: 'sync', sk: 'sync', raw: { leader: 'a', term: 1, standbys: 'b', version: 4 }, field: 'standbys', version: 4 },
        { kind: 'arbiter', sk: 'arbiter', raw: { owner: 'arb', leaseExpiresAt: 'soon', leader: null, members: {}, version: 5 }, field: 'leaseExpiresAt', version: 5 },
        { kind: 'endpoint', sk: 'endpoint', raw: { member: 42, term: 1, target: 'eni-1', movedAt: 5, version: 6 }, field: 'member', version: 6 },
        { kind: 'failover', sk: 'failover', raw: { request: { kind: 'coup', requestedAt: 1 }, version: 'seven' }, field: 'request.kind', version: null },
      ];

      for (const k of cases) {
        test(`a malformed ${k.kind} item is set aside and listed; the rest of the cluster is read`, async () => {
          // Prepare
          const { store, putRaw } = await subject();
          const c = await fullCluster(store);
          const whole = await store.readCluster(c);
          await putRaw({ pk: clusterPk(c), sk: k.sk }, k.raw);
          // Act
          const snap = await store.readCluster(c);
          // Assess
          assert.deepEqual(
            snap.malformed.map((e) => ({ kind: e.kind, key: e.key, field: e.field, version: e.version })),
            [{ kind: k.kind, key: k.sk, field: k.field, version: k.version }],
          );
          assert.match(snap.malformed[0]?.message ?? '', new RegExp(`^${k.field.replace('.', '\\.')}: `));
          const expected = k.kind === 'member' ? { ...whole } : { ...whole, [k.kind]: null };
          assert.deepEqual({ ...snap, malformed: [] }, { ...expected, malformed: [] });
          assert.ok(Object.isFrozen(snap.malformed) && Object.isFrozen(snap.malformed[0]));
        });
      }

      test('malformed items of several kinds are all listed, by key', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = await fullCluster(store);
        for (const k of cases) await putRaw({ pk: clusterPk(c), sk: k.sk }, k.raw);
        // Act
        const snap = await store.readCluster(c);
        // Assess
        assert.deepEqual(
          snap.malformed.map((e) => e.key),
          cases.map((k) => k.sk).sort(),
        );
        assert.deepEqual(
          snap.members.map((m) => m.name),
          ['a', 'b'],
        );
        assert.deepEqual([snap.initialize, snap.config, snap.leader, snap.failover, snap.sync, snap.arbiter, snap.endpoint], [null, null, null, null, null, null, null]);
      });

      test('itemSlot tells a malformed singleton from an absent one', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await store.heartbeat(c, member('a'), null);
        await putRaw({ pk: clusterPk(c), sk: 'leader' }, { ...leaderRow, phase: 'reigning' });
        // Act
        const snap = await store.readCluster(c);
        // Assess
        const leader = itemSlot(snap, 'leader');
        assert.equal(leader.state, 'malformed');
        assert.equal(leader.state === 'malformed' && leader.entry.field, 'phase');
        assert.deepEqual(itemSlot(snap, 'initialize'), { state: 'absent' });
        assert.equal(itemSlot(snap, 'leader').state, 'malformed');
      });

      test('a malformed history row is set aside and listed; the other rows are read', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        const entry = { kind: 'failover' as const, from: 'a', to: 'b', reason: 'r', lsn: 1, timeline: 2, grantedAt: 10 };
        await store.appendHistory(c, { ...entry, term: 1 });
        await store.appendHistory(c, { ...entry, term: 2 });
        await store.appendHistory(c, { ...entry, term: 4 });
        await putRaw({ pk: historyPk(c), sk: historySk(3) }, { term: 3, kind: 'coup', version: 1 });
        // Act
        const read = await store.readHistory(c);
        // Assess
        assert.deepEqual(
          read.rows.map((h) => h.term),
          [1, 2, 4],
        );
        assert.deepEqual(
          read.malformed.map((e) => [e.kind, e.key, e.field, e.version]),
          [['history', historySk(3), 'kind', 1]],
        );
      });

      // What a consumer that took the malformed item for absent would write: each must be refused.
      const absentWrites: readonly { kind: ItemKind; sk: string; raw: Record<string, unknown>; write: (s: Store, c: ClusterId) => Promise<unknown> }[] = [
        { kind: 'member', sk: memberSk('ghost'), raw: cases[0]!.raw, write: (s, c) => s.heartbeat(c, member('ghost'), null) },
        { kind: 'config', sk: 'config', raw: cases[1]!.raw, write: (s, c) => s.putConfig(c, config(), null) },
        { kind: 'leader', sk: 'leader', raw: cases[2]!.raw, write: (s, c) => s.grantLeader(c, grant('b', null)) },
        { kind: 'initialize', sk: 'initialize', raw: cases[3]!.raw, write: (s, c) => s.initialize(c, { initializedBy: 'b' }) },
        { kind: 'sync', sk: 'sync', raw: cases[4]!.raw, write: (s, c) => s.putSync(c, { leader: 'b', term: 2, standbys: [] }, null) },
        { kind: 'arbiter', sk: 'arbiter', raw: cases[5]!.raw, write: (s, c) => s.putArbiter(c, { owner: 'x', leaseExpiresAt: 1, leader: null, members: {} }, null) },
        { kind: 'endpoint', sk: 'endpoint', raw: cases[6]!.raw, write: (s, c) => s.recordEndpoint(c, { member: 'b', term: 2, target: 'eni-2', movedAt: 9 }) },
        { kind: 'failover', sk: 'failover', raw: cases[7]!.raw, write: (s, c) => s.setFailover(c, { kind: 'failover', to: 'b', requestedAt: 2, requestedBy: 't' }, null) },
      ];
      for (const w of absentWrites) {
        test(`a write that takes a malformed ${w.kind} item for absent throws MalformedItemError and writes nothing`, async () => {
          // Prepare
          const { store, putRaw } = await subject();
          const c = newCluster();
          await putRaw({ pk: clusterPk(c), sk: w.sk }, w.raw);
          // Act
          const write = w.write(store, c);
          // Assess
          await assert.rejects(write, (err: unknown) => err instanceof MalformedItemError && err.key === w.sk);
          assert.deepEqual(
            (await store.readCluster(c)).malformed.map((e) => e.key),
            [w.sk],
          );
        });
      }

      test('an endpoint record of a higher term never lands on a malformed endpoint item', async () => {
        // Prepare: the term is a number, so only the item's shape can refuse the write
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: clusterPk(c), sk: 'endpoint' }, { member: 42, term: 1, target: 'eni-1', movedAt: 5, version: 6 });
        // Act
        const write = store.recordEndpoint(c, { member: 'b', term: 2, target: 'eni-2', movedAt: 9 });
        // Assess
        await assert.rejects(write, MalformedItemError);
        assert.deepEqual(
          (await store.readCluster(c)).malformed.map((e) => [e.key, e.field, e.version]),
          [['endpoint', 'member', 6]],
        );
      });

      test('a leader update never lands on a leader item with a field of the wrong type', async () => {
        // Prepare: holder, term and phase match the renew; `previous` is not a name
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: clusterPk(c), sk: 'leader' }, { ...leaderRow, phase: 'active', previous: 42 });
        // Act
        const renew = store.renewLeader(c, { holder: 'a', term: 1, lastLsn: 2, timeline: 1 });
        // Assess
        await assert.rejects(renew, MalformedItemError);
        assert.deepEqual(
          (await store.readCluster(c)).malformed.map((e) => [e.key, e.field, e.version]),
          [['leader', 'previous', 3]],
        );
      });

      test('a history step never lands on a malformed history row', async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: historyPk(c), sk: historySk(3) }, { term: 3, kind: 'coup', from: null, to: 'b', reason: 'r', lsn: 1, timeline: 1, grantedAt: 1, version: 1 });
        // Act
        const step = store.recordHistoryStep(c, 3, 'promotedAt', 20);
        const append = store.appendHistory(c, { term: 3, kind: 'failover', from: null, to: 'b', reason: 'r', lsn: 1, timeline: 1, grantedAt: 1 });
        // Assess
        // Both watched at once: the second may be refused while the first is awaited.
        await Promise.all([assert.rejects(step, MalformedItemError), assert.rejects(append, MalformedItemError)]);
        assert.deepEqual(
          (await store.readHistory(c)).malformed.map((e) => [e.key, e.version]),
          [[historySk(3), 1]],
        );
      });

      test("a write naming a malformed item's version repairs or removes it", async () => {
        // Prepare
        const { store, putRaw } = await subject();
        const c = newCluster();
        await putRaw({ pk: clusterPk(c), sk: memberSk('a') }, { ...member('a'), lsn: 'lots', version: 4 });
        await putRaw({ pk: clusterPk(c), sk: memberSk('ghost') }, { ...member('ghost'), lsn: 'lots', version: 2 });
        const seen = (await store.readCluster(c)).malformed;
        // Act
        const repaired = await store.heartbeat(c, member('a'), seen[0]?.version ?? null);
        const removed = await store.removeMember(c, 'ghost', seen[1]?.version ?? 0);
        // Assess
        assert.deepEqual(repaired.ok && [repaired.item.name, repaired.item.version], ['a', 5]);
        assert.deepEqual(removed, { ok: true, item: null });
        const after = await store.readCluster(c);
        assert.deepEqual([after.malformed, after.members.map((m) => m.name)], [[], ['a']]);
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
