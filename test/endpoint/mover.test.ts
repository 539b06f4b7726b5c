import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { endpointConfigSchema, type MemberItem } from '../../lib/dcs/items.js';
import { ElasticIpMover } from '../../lib/endpoint/elastic-ip.js';
import { EndpointTargetError } from '../../lib/endpoint/errors.js';
import { NoneMover, createMover } from '../../lib/endpoint/factory.js';
import { LocalProxy, LocalProxyMover } from '../../lib/endpoint/local-proxy.js';
import { targetFromMember } from '../../lib/endpoint/mover.js';
import { PrivateIpMover } from '../../lib/endpoint/private-ip.js';
import { Route53Mover } from '../../lib/endpoint/route53.js';

const member = (over: Partial<MemberItem>): MemberItem => ({
  name: 'pg-a',
  role: 'replica',
  state: 'running',
  timeline: 1,
  lsn: 0,
  replayLsn: 0,
  tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false },
  connUrl: 'postgres://10.0.0.11:5433/postgres',
  apiUrl: 'http://10.0.0.11:8008',
  systemId: null,
  heartbeatAt: 0,
  version: 1,
  ...over,
});

describe('targetFromMember', () => {
  it('takes the network identity from the member and host and port from connUrl', () => {
    assert.deepEqual(targetFromMember(member({ networkInterfaceId: 'eni-a', privateIp: '10.0.0.11', instanceId: 'i-1' }), 4), {
      member: 'pg-a',
      term: 4,
      networkInterfaceId: 'eni-a',
      privateIp: '10.0.0.11',
      host: '10.0.0.11',
      port: 5433,
    });
  });

  it('leaves out what the member did not report and defaults the port to 5432', () => {
    assert.deepEqual(targetFromMember(member({ connUrl: 'postgresql://user:secret@db-a.internal/app?sslmode=require' }), 1), {
      member: 'pg-a',
      term: 1,
      host: 'db-a.internal',
      port: 5432,
    });
  });

  it('unwraps IPv6 literals', () => {
    const t = targetFromMember(member({ connUrl: 'postgres://[::1]:6432/postgres' }), 2);
    assert.equal(t.host, '::1');
    assert.equal(t.port, 6432);
  });

  it('rejects a connUrl that is not a postgres URL, naming the member', () => {
    for (const connUrl of ['not a url', 'http://10.0.0.1:5432/', 'postgres:///postgres']) {
      assert.throws(
        () => targetFromMember(member({ connUrl }), 1),
        (e) => e instanceof EndpointTargetError && e.member === 'pg-a' && e.message.includes('connUrl'),
        connUrl,
      );
    }
  });
});

describe('createMover', () => {
  const ec2 = new EC2Client({ region: 'eu-west-1' });
  const route53 = new Route53Client({ region: 'us-east-1' });

  it('maps kind none to a no-op mover', async () => {
    const m = createMover({ kind: 'none' }, {});
    assert.ok(m instanceof NoneMover);
    assert.equal(m.kind, 'none');
    const t = targetFromMember(member({}), 1);
    assert.deepEqual(await m.move(t), { target: 'none' });
    assert.equal(await m.pointsAt(t), true);
  });

  it('maps elastic-ip, private-ip and route53 to their movers with the configured settings', () => {
    const eip = createMover(endpointConfigSchema.parse({ kind: 'elastic-ip', allocationId: 'eipalloc-0abc' }), { ec2 });
    assert.ok(eip instanceof ElasticIpMover);
    assert.equal(eip.kind, 'elastic-ip');
    assert.equal(eip.allocationId, 'eipalloc-0abc');

    const pip = createMover(endpointConfigSchema.parse({ kind: 'private-ip', address: '10.0.0.100' }), { ec2 });
    assert.ok(pip instanceof PrivateIpMover);
    assert.equal(pip.kind, 'private-ip');
    assert.equal(pip.address, '10.0.0.100');

    const r53 = createMover(endpointConfigSchema.parse({ kind: 'route53', hostedZoneId: 'Z123ABC', recordName: 'db.internal' }), { route53 });
    assert.ok(r53 instanceof Route53Mover);
    assert.equal(r53.kind, 'route53');
    assert.deepEqual(r53.settings, { hostedZoneId: 'Z123ABC', recordName: 'db.internal', ttl: 5, waitForSync: false });
  });

  it('creates its own AWS clients when none are given, and closes them', async () => {
    const m = createMover({ kind: 'elastic-ip', allocationId: 'eipalloc-1' }, {});
    assert.ok(m instanceof ElasticIpMover);
    await m.close?.();
    const r = createMover({ kind: 'route53', hostedZoneId: 'Z1', recordName: 'x', ttl: 5, waitForSync: true }, {});
    assert.ok(r instanceof Route53Mover);
    await r.close?.();
  });

  it('maps local-proxy to a mover on the given proxy, or on its own proxy at the configured address', async () => {
    const proxy = new LocalProxy({ port: 0 });
    const given = createMover({ kind: 'local-proxy', host: '127.0.0.1', port: 6543 }, { proxy });
    assert.ok(given instanceof LocalProxyMover);
    assert.equal(given.proxy, proxy);

    const own = createMover(endpointConfigSchema.parse({ kind: 'local-proxy', port: 6543 }), {});
    assert.ok(own instanceof LocalProxyMover);
    assert.notEqual(own.proxy, proxy);
    assert.equal(own.proxy.host, '127.0.0.1');
    assert.equal(own.kind, 'local-proxy');
    await own.close();
  });
});
