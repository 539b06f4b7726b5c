import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  AssociateAddressCommand,
  DescribeAddressesCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { ElasticIpMover } from '../../lib/endpoint/elastic-ip.js';
import {
  EndpointNotFoundError,
  EndpointPermissionError,
  EndpointTargetError,
  EndpointUnavailableError,
  EndpointVerifyError,
} from '../../lib/endpoint/errors.js';
import type { EndpointTarget } from '../../lib/endpoint/mover.js';
import { fakeTime } from './fake-time.js';

const ec2Mock = mockClient(EC2Client);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const ALLOC = 'eipalloc-0abc';
const target: EndpointTarget = { member: 'pg-b', term: 7, networkInterfaceId: 'eni-b', privateIp: '10.0.0.12', host: '10.0.0.12', port: 5432 };

const awsError = (name: string, status: number): EC2ServiceException =>
  new EC2ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name}: from the mock` });
const on = (eni: string, ip: string) => ({ Addresses: [{ AllocationId: ALLOC, PublicIp: '3.3.3.3', NetworkInterfaceId: eni, PrivateIpAddress: ip }] });

describe('ElasticIpMover', () => {
  beforeEach(() => ec2Mock.reset());

  it('associates the address with the target interface and private IP, then verifies it', async () => {
    ec2Mock.on(AssociateAddressCommand).resolves({ AssociationId: 'eipassoc-1' });
    ec2Mock.on(DescribeAddressesCommand).resolves(on('eni-b', '10.0.0.12'));
    const ft = fakeTime();
    const mover = new ElasticIpMover(ec2, ALLOC, ft.tuning);
    assert.equal(mover.kind, 'elastic-ip');
    assert.deepEqual(await mover.move(target), { target: 'eni-b/10.0.0.12' });

    const assoc = ec2Mock.commandCalls(AssociateAddressCommand);
    assert.equal(assoc.length, 1);
    assert.deepEqual(assoc[0]!.args[0].input, {
      AllocationId: ALLOC,
      NetworkInterfaceId: 'eni-b',
      PrivateIpAddress: '10.0.0.12',
      AllowReassociation: true,
    });
    const options: unknown = (assoc[0]!.args as unknown[])[1];
    assert.ok((options as { abortSignal?: unknown }).abortSignal instanceof AbortSignal, 'each request can be aborted');
    const describes = ec2Mock.commandCalls(DescribeAddressesCommand);
    assert.equal(describes.length, 1);
    assert.deepEqual(describes[0]!.args[0].input, { AllocationIds: [ALLOC] });
  });

  it('leaves out PrivateIpAddress when the member did not report one', async () => {
    ec2Mock.on(AssociateAddressCommand).resolves({});
    ec2Mock.on(DescribeAddressesCommand).resolves(on('eni-b', '10.0.0.99'));
    const { privateIp: _, ...noIp } = target;
    const mover = new ElasticIpMover(ec2, ALLOC, fakeTime().tuning);
    assert.deepEqual(await mover.move(noIp), { target: 'eni-b/10.0.0.99' });
    assert.deepEqual(ec2Mock.commandCalls(AssociateAddressCommand)[0]!.args[0].input, {
      AllocationId: ALLOC,
      NetworkInterfaceId: 'eni-b',
      AllowReassociation: true,
    });
  });

  it('re-checks until the address shows on the new interface', async () => {
    ec2Mock.on(AssociateAddressCommand).resolves({});
    ec2Mock
      .on(DescribeAddressesCommand)
      .resolvesOnce(on('eni-a', '10.0.0.11'))
      .resolvesOnce(on('eni-a', '10.0.0.11'))
      .resolves(on('eni-b', '10.0.0.12'));
    const ft = fakeTime();
    const mover = new ElasticIpMover(ec2, ALLOC, ft.tuning);
    assert.deepEqual(await mover.move(target), { target: 'eni-b/10.0.0.12' });
    assert.equal(ec2Mock.commandCalls(DescribeAddressesCommand).length, 3);
    assert.deepEqual(ft.sleeps, [200, 200]);
  });

  it('fails with EndpointVerifyError when the address never shows there (bounded re-checks)', async () => {
    ec2Mock.on(AssociateAddressCommand).resolves({});
    ec2Mock.on(DescribeAddressesCommand).resolves(on('eni-a', '10.0.0.11'));
    const mover = new ElasticIpMover(ec2, ALLOC, { ...fakeTime().tuning, verifyAttempts: 4 });
    await assert.rejects(mover.move(target), (e) => {
      assert.ok(e instanceof EndpointVerifyError);
      assert.match(e.message, /eipalloc-0abc points at eni-a\/10\.0\.0\.11, expected eni-b\/10\.0\.0\.12/);
      return true;
    });
    assert.equal(ec2Mock.commandCalls(DescribeAddressesCommand).length, 4);
  });

  it('refuses a target without a network interface, naming the member', async () => {
    const { networkInterfaceId: _, ...noEni } = target;
    const mover = new ElasticIpMover(ec2, ALLOC, fakeTime().tuning);
    await assert.rejects(mover.move(noEni), (e) => {
      assert.ok(e instanceof EndpointTargetError);
      assert.equal(e.member, 'pg-b');
      assert.match(e.message, /member pg-b: reports no networkInterfaceId/);
      return true;
    });
    assert.equal(ec2Mock.calls().length, 0);
    assert.equal(await mover.pointsAt(noEni), false);
  });

  it('pointsAt reads the association', async () => {
    const mover = new ElasticIpMover(ec2, ALLOC, fakeTime().tuning);
    ec2Mock.on(DescribeAddressesCommand).resolves(on('eni-b', '10.0.0.12'));
    assert.equal(await mover.pointsAt(target), true);
    assert.deepEqual(ec2Mock.commandCalls(DescribeAddressesCommand)[0]!.args[0].input, { AllocationIds: [ALLOC] });
    ec2Mock.on(DescribeAddressesCommand).resolves(on('eni-a', '10.0.0.11'));
    assert.equal(await mover.pointsAt(target), false);
    ec2Mock.on(DescribeAddressesCommand).resolves(on('eni-b', '10.0.0.13'));
    assert.equal(await mover.pointsAt(target), false, 'same interface, other private IP');
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: ALLOC, PublicIp: '3.3.3.3' }] });
    assert.equal(await mover.pointsAt(target), false, 'not associated');
  });

  it('retries throttling, then succeeds', async () => {
    ec2Mock
      .on(AssociateAddressCommand)
      .rejectsOnce(awsError('RequestLimitExceeded', 503))
      .rejectsOnce(awsError('RequestLimitExceeded', 503))
      .resolves({});
    ec2Mock.on(DescribeAddressesCommand).rejectsOnce(awsError('InternalError', 500)).resolves(on('eni-b', '10.0.0.12'));
    const ft = fakeTime();
    const mover = new ElasticIpMover(ec2, ALLOC, ft.tuning);
    assert.deepEqual(await mover.move(target), { target: 'eni-b/10.0.0.12' });
    assert.equal(ec2Mock.commandCalls(AssociateAddressCommand).length, 3);
    assert.equal(ec2Mock.commandCalls(DescribeAddressesCommand).length, 2);
    assert.deepEqual(ft.sleeps, [75, 150, 75]);
  });

  it('throws EndpointUnavailableError within the deadline when throttling never stops', async () => {
    ec2Mock.on(AssociateAddressCommand).rejects(awsError('RequestLimitExceeded', 503));
    const ft = fakeTime();
    const mover = new ElasticIpMover(ec2, ALLOC, ft.tuning);
    await assert.rejects(mover.move(target, { timeoutMs: 5_000 }), (e) => {
      assert.ok(e instanceof EndpointUnavailableError);
      assert.equal(e.action, 'ec2:AssociateAddress');
      assert.match(e.message, /RequestLimitExceeded/);
      return true;
    });
    assert.ok(ft.elapsed() <= 5_000, `spent ${ft.elapsed()} ms of 5000`);
    assert.ok(ec2Mock.commandCalls(AssociateAddressCommand).length > 3);
    assert.equal(ec2Mock.commandCalls(DescribeAddressesCommand).length, 0);
  });

  it('uses 10 s as the default deadline', async () => {
    ec2Mock.on(AssociateAddressCommand).rejects({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 }, message: 'slow' });
    const ft = fakeTime();
    await assert.rejects(new ElasticIpMover(ec2, ALLOC, ft.tuning).move(target), EndpointUnavailableError);
    assert.ok(ft.elapsed() <= 10_000 && ft.elapsed() > 5_000, `spent ${ft.elapsed()} ms`);
  });

  it('turns UnauthorizedOperation into EndpointPermissionError naming the action and resource', async () => {
    ec2Mock.on(AssociateAddressCommand).rejects(awsError('UnauthorizedOperation', 403));
    const mover = new ElasticIpMover(ec2, ALLOC, fakeTime().tuning);
    await assert.rejects(mover.move(target), (e) => {
      assert.ok(e instanceof EndpointPermissionError);
      assert.match(e.message, /ec2:AssociateAddress/);
      assert.match(e.message, /eipalloc-0abc/);
      assert.match(e.message, /eni-b/);
      assert.match(e.message, /IAM policy/);
      return true;
    });
    assert.equal(ec2Mock.commandCalls(AssociateAddressCommand).length, 1, 'not retried');
  });

  it('turns InvalidAllocationID.NotFound into EndpointNotFoundError naming the address', async () => {
    ec2Mock.on(DescribeAddressesCommand).rejects(awsError('InvalidAllocationID.NotFound', 400));
    const mover = new ElasticIpMover(ec2, ALLOC, fakeTime().tuning);
    await assert.rejects(mover.pointsAt(target), (e) => {
      assert.ok(e instanceof EndpointNotFoundError);
      assert.match(e.message, /elastic IP eipalloc-0abc/);
      return true;
    });
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [] });
    await assert.rejects(mover.pointsAt(target), EndpointNotFoundError);
  });

  it('turns InvalidNetworkInterfaceID.NotFound on associate into EndpointNotFoundError', async () => {
    ec2Mock.on(AssociateAddressCommand).rejects(awsError('InvalidNetworkInterfaceID.NotFound', 400));
    const mover = new ElasticIpMover(ec2, ALLOC, fakeTime().tuning);
    await assert.rejects(mover.move(target), (e) => e instanceof EndpointNotFoundError && /eni-b/.test(e.message));
  });
});
