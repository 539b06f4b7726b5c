// Replication slots on real servers: the primary's agent drops the slot of a
// member that is gone for good (killed, its item removed) once the grace
// period is over, never the slot a live replica streams through, and creates
// the permanent slots of the config.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { slotName } from '../../lib/agent/effects.js';
import { DEFAULT_CONFIG } from '../../lib/dcs/items.js';
import { sql, streamingStandbys, TestCluster } from '../support/pgcluster.js';

let c: TestCluster | undefined;
after(async () => c?.stop());

interface SlotRow {
  slot_name: string;
  active: boolean;
}

const slotsOn = (port: number): Promise<SlotRow[]> => sql<SlotRow>(port, 'SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name').catch(() => []);

test('the primary drops a removed member\'s slot after the grace period, keeps the live replica\'s and creates permanent slots', { timeout: 300_000 }, async () => {
  // Prepare: three nodes streaming, ttl 3, a grace period of a few seconds and one permanent slot
  c = await TestCluster.create({ nodes: 3, ttl: 3 });
  const cl = c;
  const primary = await cl.startStreaming();
  const port = cl.spec(primary).pgPort;
  const cur = await cl.store.getConfig(cl.cluster);
  const written = await cl.store.putConfig(cl.cluster, { ...(cur?.config ?? DEFAULT_CONFIG), slotGracePeriod: 8, permanentSlots: { standby_dr: { type: 'physical' } } }, cur?.version ?? null);
  assert.ok(written.ok, 'the config write lands');
  const replica = primary === 'node1' ? 'node2' : 'node1';
  const gone = 'node3';
  assert.notEqual(primary, gone);

  // Act 1: the permanent slot appears on the primary
  await cl.waitFor('the permanent slot on the primary', async () => ((await slotsOn(port)).some((s) => s.slot_name === 'standby_dr') ? true : undefined));
  const before = (await slotsOn(port)).map((s) => s.slot_name);

  // Act 2: node3 dies for good and is removed
  cl.kill(gone);
  await cl.agents.get(gone)?.exited;
  const item = (await cl.read()).members.find((m) => m.name === gone);
  assert.ok(item !== undefined);
  const removed = await cl.store.removeMember(cl.cluster, gone, item.version);
  assert.ok(removed.ok, 'node3\'s member item is removed');
  // Every poll: the live replica's slot is still there.
  let replicaSlotSeen = 0;
  await cl.waitFor(`${slotName(gone)} dropped on the primary`, async () => {
    const slots = await slotsOn(port);
    if (slots.length === 0) return undefined;
    assert.ok(slots.some((s) => s.slot_name === slotName(replica)), `${slotName(replica)} is never dropped`);
    replicaSlotSeen += 1;
    return slots.some((s) => s.slot_name === slotName(gone)) ? undefined : slots;
  }, 120_000);

  // Assess
  assert.ok(before.includes(slotName(gone)), `${slotName(gone)} existed before: ${before.join(', ')}`);
  assert.ok(replicaSlotSeen > 0);
  const after = await cl.waitFor(`${slotName(replica)} active`, async () => {
    const slots = await slotsOn(port);
    return slots.find((s) => s.slot_name === slotName(replica))?.active === true ? slots : undefined;
  });
  assert.deepEqual(after.map((s) => s.slot_name), [slotName(replica), 'standby_dr'].sort());
  assert.deepEqual(await streamingStandbys(port), [replica], 'the replica still streams');
  const reported = await cl.waitFor('the primary reports its slots\' retention', (s) => s.members.find((m) => m.name === primary)?.slotRetainedBytes);
  assert.ok(Number.isInteger(reported) && reported >= 0);
  const log = readFileSync(cl.spec(primary).logPath, 'utf8');
  const drops = log.split('\n').filter((l) => l.includes(`dropping replication slot ${slotName(gone)}`));
  assert.equal(drops.length, 1, 'the drop is logged once');
  assert.match(drops[0] ?? '', /\((no-member|member-silent)\): /);
  // The replica that may promote keeps its own copy of the permanent slot, ready for a failover.
  await cl.waitFor('the replica holds a copy of standby_dr', async () => ((await slotsOn(cl.spec(replica).pgPort)).some((s) => s.slot_name === 'standby_dr') ? true : undefined));
  const reportedLsns = await cl.waitFor('the primary reports its permanent slot\'s position', (s) => s.members.find((m) => m.name === primary)?.permanentSlotLsns?.['standby_dr']);
  assert.ok(Number.isInteger(reportedLsns));
});
