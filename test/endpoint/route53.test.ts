import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  NoSuchHostedZone,
  PriorRequestNotComplete,
  Route53Client,
  ThrottlingException,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import {
  EndpointNotFoundError,
  EndpointPermissionError,
  EndpointTargetError,
  EndpointUnavailableError,
} from '../../lib/endpoint/errors.js';
import type { EndpointTarget } from '../../lib/endpoint/mover.js';
import { Route53Mover, normalizeRecordName } from '../../lib/endpoint/route53.js';
import { fakeTime } from './fake-time.js';

const r53Mock = mockClient(Route53Client);
const route53 = new Route53Client({ region: 'us-east-1' });
const ZONE = 'Z0123456789ABC';
const settings = { hostedZoneId: ZONE, recordName: 'db.orders.internal', ttl: 5, waitForSync: false };
const target: EndpointTarget = { member: 'pg-b', term: 9, networkInterfaceId: 'eni-b', privateIp: '10.0.0.12', host: '10.0.0.12', port: 5432 };
const change = (status: 'PENDING' | 'INSYNC') => ({ ChangeInfo: { Id: '/change/C1', Status: status, SubmittedAt: new Date(0) } });
const listing = (name: string, type: 'A' | 'CNAME', ...values: string[]) => ({
  ResourceRecordSets: [{ Name: name, Type: type, TTL: 5, ResourceRecords: values.map((Value) => ({ Value })) }],
  IsTruncated: false,
  MaxItems: 1,
});

describe('Route53Mover', () => {
  beforeEach(() => r53Mock.reset());

  it('UPSERTs the A record with the primary private IP, commenting member and term', async () => {
    r53Mock.on(ChangeResourceRecordSetsCommand).resolves(change('PENDING'));
    const mover = new Route53Mover(route53, settings, fakeTime().tuning);
    assert.equal(mover.kind, 'route53');
    assert.deepEqual(await mover.move(target), { target: '10.0.0.12' });
    const calls = r53Mock.commandCalls(ChangeResourceRecordSetsCommand);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.args[0].input, {
      HostedZoneId: ZONE,
      ChangeBatch: {
        Comment: 'pgfloat: primary pg-b, term 9',
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: { Name: 'db.orders.internal', Type: 'A', TTL: 5, ResourceRecords: [{ Value: '10.0.0.12' }] },
          },
        ],
      },
    });
    assert.equal(r53Mock.commandCalls(GetChangeCommand).length, 0, 'no wait without waitForSync');
  });

  it('with waitForSync polls GetChange from PENDING to INSYNC', async () => {
    r53Mock.on(ChangeResourceRecordSetsCommand).resolves(change('PENDING'));
    r53Mock.on(GetChangeCommand).resolvesOnce(change('PENDING')).resolvesOnce(change('PENDING')).resolves(change('INSYNC'));
    const ft = fakeTime();
    const mover = new Route53Mover(route53, { ...settings, waitForSync: true, ttl: 30 }, ft.tuning);
    assert.deepEqual(await mover.move(target), { target: '10.0.0.12' });
    const polls = r53Mock.commandCalls(GetChangeCommand);
    assert.equal(polls.length, 3);
    for (const p of polls) assert.deepEqual(p.args[0].input, { Id: '/change/C1' });
    assert.deepEqual(ft.sleeps, [200, 200, 200]);
    const rrs = r53Mock.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch?.Changes?.[0]?.ResourceRecordSet;
    assert.equal(rrs?.TTL, 30);
  });

  it('with waitForSync does not poll a change already INSYNC', async () => {
    r53Mock.on(ChangeResourceRecordSetsCommand).resolves(change('INSYNC'));
    await new Route53Mover(route53, { ...settings, waitForSync: true }, fakeTime().tuning).move(target);
    assert.equal(r53Mock.commandCalls(GetChangeCommand).length, 0);
  });

  it('with waitForSync gives up at the deadline while the change stays PENDING', async () => {
    r53Mock.on(ChangeResourceRecordSetsCommand).resolves(change('PENDING'));
    r53Mock.on(GetChangeCommand).resolves(change('PENDING'));
    const ft = fakeTime();
    const mover = new Route53Mover(route53, { ...settings, waitForSync: true }, ft.tuning);
    await assert.rejects(mover.move(target, { timeoutMs: 3_000 }), (e) => {
      assert.ok(e instanceof EndpointUnavailableError);
      assert.equal(e.action, 'route53:GetChange');
      assert.match(e.message, /still PENDING/);
      return true;
    });
    assert.ok(ft.elapsed() <= 3_000);
    assert.ok(r53Mock.commandCalls(GetChangeCommand).length >= 10);
  });

  it('pointsAt lists the record from its name', async () => {
    const mover = new Route53Mover(route53, settings, fakeTime().tuning);
    r53Mock.on(ListResourceRecordSetsCommand).resolves(listing('db.orders.internal.', 'A', '10.0.0.12'));
    assert.equal(await mover.pointsAt(target), true);
    assert.deepEqual(r53Mock.commandCalls(ListResourceRecordSetsCommand)[0]!.args[0].input, {
      HostedZoneId: ZONE,
      StartRecordName: 'db.orders.internal',
      StartRecordType: 'A',
      MaxItems: 1,
    });
    r53Mock.on(ListResourceRecordSetsCommand).resolves(listing('db.orders.internal.', 'A', '10.0.0.11'));
    assert.equal(await mover.pointsAt(target), false, 'other address');
    r53Mock.on(ListResourceRecordSetsCommand).resolves(listing('db.orders.internal.', 'A', '10.0.0.12', '10.0.0.11'));
    assert.equal(await mover.pointsAt(target), false, 'two addresses');
    r53Mock.on(ListResourceRecordSetsCommand).resolves(listing('dc.orders.internal.', 'A', '10.0.0.12'));
    assert.equal(await mover.pointsAt(target), false, 'the next record, ours is absent');
    r53Mock.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false, MaxItems: 1 });
    assert.equal(await mover.pointsAt(target), false, 'empty zone');
  });

  it('compares names the way Route 53 returns them', () => {
    assert.equal(normalizeRecordName('\\052.Orders.Internal.'), '*.orders.internal');
    assert.equal(normalizeRecordName('db.orders.internal'), 'db.orders.internal');
  });

  it('refuses a target without a private IP, naming the member', async () => {
    const { privateIp: _, ...noIp } = target;
    const mover = new Route53Mover(route53, settings, fakeTime().tuning);
    await assert.rejects(mover.move(noIp), (e) => e instanceof EndpointTargetError && /member pg-b: reports no privateIp/.test(e.message));
    assert.equal(r53Mock.calls().length, 0);
  });

  it('retries Throttling and PriorRequestNotComplete, then succeeds', async () => {
    r53Mock
      .on(ChangeResourceRecordSetsCommand)
      .rejectsOnce(new ThrottlingException({ $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }))
      .rejectsOnce(new PriorRequestNotComplete({ $metadata: { httpStatusCode: 400 }, message: 'busy' }))
      .rejectsOnce({ name: 'Throttling', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' })
      .resolves(change('PENDING'));
    const ft = fakeTime();
    assert.deepEqual(await new Route53Mover(route53, settings, ft.tuning).move(target), { target: '10.0.0.12' });
    assert.equal(r53Mock.commandCalls(ChangeResourceRecordSetsCommand).length, 4);
    assert.equal(ft.sleeps.length, 3);
  });

  it('throws EndpointUnavailableError within the deadline when throttling never stops', async () => {
    r53Mock.on(ChangeResourceRecordSetsCommand).rejects(new ThrottlingException({ $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }));
    const ft = fakeTime();
    await assert.rejects(new Route53Mover(route53, settings, ft.tuning).move(target, { timeoutMs: 4_000 }), EndpointUnavailableError);
    assert.ok(ft.elapsed() <= 4_000);
  });

  it('maps AccessDenied to EndpointPermissionError and NoSuchHostedZone to EndpointNotFoundError', async () => {
    r53Mock.on(ChangeResourceRecordSetsCommand).rejects({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 }, message: 'User is not authorized' });
    const mover = new Route53Mover(route53, settings, fakeTime().tuning);
    await assert.rejects(mover.move(target), (e) => {
      assert.ok(e instanceof EndpointPermissionError);
      assert.match(e.message, /route53:ChangeResourceRecordSets on record db\.orders\.internal \(A\) in hosted zone Z0123456789ABC/);
      return true;
    });
    r53Mock.on(ListResourceRecordSetsCommand).rejects(new NoSuchHostedZone({ $metadata: { httpStatusCode: 404 }, message: 'No hosted zone found' }));
    await assert.rejects(mover.pointsAt(target), (e) => e instanceof EndpointNotFoundError && /hosted zone Z0123456789ABC/.test(e.message));
  });
});
