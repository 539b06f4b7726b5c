// Test code playing the node agents: each live member heartbeats, a holder
// renews its lease, a member granted the lease confirms its promotion.
// Bounded: every loop stops by itself after `maxMs`.
import type { ClusterId } from '../../lib/dcs/keys.js';
import type { MemberStatus } from '../../lib/dcs/items.js';
import type { Store } from '../../lib/dcs/store.js';

export interface FakeMember {
  lsn: number;
  alive: boolean;
  role: MemberStatus['role'];
  timeline: number;
  connUrl: string;
  tags?: Partial<MemberStatus['tags']>;
}

export class FakeAgents {
  private running = false;
  private loop: Promise<void> | undefined;
  /** Members that, while listed, leave a grant unconfirmed (a promotion still under way). */
  readonly holdGrants = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly c: ClusterId,
    readonly members: Record<string, FakeMember>,
  ) {}

  status(name: string): MemberStatus {
    const m = this.members[name] as FakeMember;
    return {
      name,
      role: m.role,
      state: 'running',
      timeline: m.timeline,
      lsn: m.lsn,
      replayLsn: m.role === 'replica' ? m.lsn : null,
      tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false, ...m.tags },
      connUrl: m.connUrl,
      apiUrl: 'http://127.0.0.1:1/patroni',
      systemId: '7300000000000000001',
      heartbeatAt: Date.now(),
    };
  }

  /** One round: every live member heartbeats and acts on the leader item. */
  async round(): Promise<void> {
    const snap = await this.store.readCluster(this.c);
    for (const [name, m] of Object.entries(this.members)) {
      if (!m.alive) continue;
      const mine = snap.members.find((x) => x.name === name);
      const leader = snap.leader;
      if (leader?.holder === name && leader.phase === 'granted' && this.holdGrants.has(name)) {
        // Promoting: still a replica, heartbeating.
      } else if (leader?.holder === name && leader.phase === 'granted') {
        m.role = 'primary';
        // Promotion starts a new timeline; the bootstrap primary keeps its first one.
        if (leader.previous !== null) m.timeline = leader.timeline + 1;
        await this.store.confirmLeader(this.c, { holder: name, term: leader.term, lastLsn: m.lsn, timeline: m.timeline });
      } else if (leader?.holder === name && leader.phase === 'active') {
        await this.store.renewLeader(this.c, { holder: name, term: leader.term, lastLsn: m.lsn, timeline: m.timeline });
      } else if (leader !== null && leader.holder !== name) {
        // A follower streams from the leader and so follows its timeline.
        m.role = 'replica';
        m.timeline = Math.max(m.timeline, leader.timeline);
      }
      await this.store.heartbeat(this.c, this.status(name), mine?.version ?? null);
    }
  }

  start(intervalMs: number, maxMs: number): void {
    this.running = true;
    const until = Date.now() + maxMs;
    this.loop = (async () => {
      while (this.running && Date.now() < until) {
        await this.round();
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
  }

  kill(name: string): void {
    (this.members[name] as FakeMember).alive = false;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
