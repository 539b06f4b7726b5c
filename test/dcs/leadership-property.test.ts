// Random interleavings of grant, renew, confirm and release from several
// actors, each acting on its own possibly stale view: terms only grow, a term
// names one holder, and only that holder's renewals succeed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryStore } from '../../lib/dcs/memory-store.js';
import type { LeaderItem } from '../../lib/dcs/items.js';
import { grant } from './contract.js';

const ACTORS = ['a', 'b', 'c', 'd'] as const;
type Actor = (typeof ACTORS)[number];
const opArb = fc.record({
  actor: fc.constantFrom(...ACTORS),
  kind: fc.constantFrom('read', 'grant', 'renew', 'confirm', 'release'),
});

test('random grant, renew and release interleavings keep terms increasing with one holder per term', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 40 }), async (batches) => {
      // Prepare
      const store = new MemoryStore();
      const c = { namespace: 'prop', scope: 'leader' };
      const view = new Map<Actor, LeaderItem | null>(ACTORS.map((a) => [a, null]));
      const held = new Map<Actor, number>();
      const holderOfTerm = new Map<number, string>();
      let highestTerm = 0;
      let lastVersion = 0;

      const act = async ({ actor, kind }: { actor: Actor; kind: string }): Promise<void> => {
        const term = held.get(actor);
        if (kind === 'read') {
          view.set(actor, (await store.readCluster(c)).leader);
        } else if (kind === 'grant') {
          const seen = view.get(actor) ?? null;
          const r = await store.grantLeader(c, grant(actor, seen && { version: seen.version, term: seen.term }));
          if (r.ok) {
            // Assess: a granted term is new and higher than every earlier one
            assert.ok(r.item.term > highestTerm, `term ${r.item.term} after ${highestTerm}`);
            assert.equal(holderOfTerm.has(r.item.term), false);
            highestTerm = r.item.term;
            holderOfTerm.set(r.item.term, actor);
            held.set(actor, r.item.term);
          }
        } else if (term !== undefined) {
          const w = { holder: actor, term, lastLsn: 1, timeline: 1 };
          const r =
            kind === 'renew' ? await store.renewLeader(c, w) : kind === 'confirm' ? await store.confirmLeader(c, w) : await store.releaseLeader(c, w);
          if (r.ok) {
            // Assess: only the holder of the current term writes
            assert.equal(holderOfTerm.get(r.item.term), actor);
            assert.equal(r.item.term, highestTerm);
          } else if (r.current === null || r.current.term !== term || kind === 'release') {
            held.delete(actor);
          }
          if (r.ok && kind === 'release') held.delete(actor);
        }
      };

      // Act: each batch runs concurrently
      for (const batch of batches) {
        await Promise.all(batch.map(act));
        const leader = (await store.readCluster(c)).leader;
        // Assess: the stored leader is the holder its term was granted to; versions never go back
        if (leader !== null) {
          assert.equal(holderOfTerm.get(leader.term), leader.holder);
          assert.equal(leader.term, highestTerm);
          assert.ok(leader.version >= lastVersion);
          lastVersion = leader.version;
        }
      }
    }),
    { numRuns: 300 },
  );
});
