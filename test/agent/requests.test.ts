// The agent API's switchover and failover requests check what the CLI
// checks (lib/ha/leadership.ts): a candidate the arbiter would refuse is
// refused, and a pending request is never replaced.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStore } from '../../lib/dcs/memory-store.js';
import { switchoverHandlers } from '../../lib/agent/requests.js';
import { currentLeader, leaderName, servingLeader } from '../../lib/ha/leadership.js';
import { HEARTBEAT, NOW, newCluster, seedCluster } from '../cli/harness.js';
import { leader } from '../ha/fixtures.js';

describe('the agent API\'s requests', () => {
  test('a switchover to a member the arbiter would refuse is refused with the rule, and nothing is written', async () => {
    // Prepare: c is 3 MB behind the leader; d's heartbeat is a minute old
    const store = new MemoryStore();
    const c = newCluster();
    await seedCluster(store, c, { replicas: [{ name: 'b', lsn: 100 * 1024 * 1024 }, { name: 'c', lsn: 97 * 1024 * 1024 }, { name: 'd', lsn: 100 * 1024 * 1024, heartbeatAt: HEARTBEAT - 60_000 }] });
    const h = switchoverHandlers(store, c, () => NOW);
    // Act
    const lagging = await h.onSwitchover({ candidate: 'c' });
    const stale = await h.onFailover({ candidate: 'd' });
    const ghost = await h.onSwitchover({ candidate: 'zz' });
    // Assess
    assert.equal(lagging.status, 412);
    assert.match(lagging.message, /candidate c is not eligible: .*lag/);
    assert.equal(stale.status, 412);
    assert.match(stale.message, /candidate d is not eligible: heartbeat stale/);
    assert.match(ghost.message, /zz is not a member/);
    assert.equal((await store.readCluster(c)).failover, null);
  });

  test('a pending request is not replaced: the second answers 409 and the first stands', async () => {
    // Prepare
    const store = new MemoryStore();
    const c = newCluster();
    await seedCluster(store, c);
    const h = switchoverHandlers(store, c, () => NOW);
    // Act
    const first = await h.onSwitchover({ candidate: 'b' });
    const second = await h.onFailover({ candidate: 'b' });
    // Assess
    assert.equal(first.status, 200, first.message);
    assert.equal(second.status, 409);
    assert.match(second.message, /already pending/);
    assert.equal((await store.readCluster(c)).failover?.request.kind, 'switchover');
  });

  test('a released holder leads nobody; a granted one leads but does not serve yet', () => {
    // Assess
    assert.equal(currentLeader({ leader: leader('a', { phase: 'released' }) }), null);
    assert.equal(leaderName({ leader: leader('a', { phase: 'active' }) }), 'a');
    assert.equal(servingLeader({ leader: leader('a', { phase: 'granted' }) }), null);
    assert.equal(servingLeader({ leader: leader('a', { phase: 'handover' }) })?.holder, 'a');
  });
});
