import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  AssignPrivateIpAddressesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import {
  EndpointNotFoundError,
  EndpointPermissionError,
  EndpointTargetError,
  EndpointUnavailableError,
} from '../../lib/endpoint/errors.js';
import type { EndpointTarget } from '../../lib/endpoint/mover.js';
import { PrivateIpMover } from '../../lib/endpoint/private-ip.js';
import { fakeTime } from './fake-time.js';

const ec2Mock = mockClient(EC2Client);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const VIP = '10.0.0.100';
const target: EndpointTarget = { member: 'pg-b', term: 3, networkInterfaceId: 'eni-b', privateIp: '10.0.0.12', host: '10.0.0.12', port: 5432 };

const awsError = (name: string, status: number): EC2ServiceException =>
  new EC2ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name}: from the mock` });
const eni = (id: string, ...ips: string[]) => ({
  NetworkInterfaces: [{ NetworkInterfaceId: id, PrivateIpAddresses: ips.map((ip, i) => ({ PrivateIpAddress: ip, Primary: i === 0 })) }],
});

describe('PrivateIpMover', () => {
  beforeEach(() => ec2Mock.reset());

  it('assigns the address to the target interface, then verifies it', async () => {
    ec2Mock.on(AssignPrivateIpAddressesCommand).resolves({});
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves(eni('eni-b', '10.0.0.12', VIP));
    const mover = new PrivateIpMover(ec2, VIP, fakeTime().tuning);
    assert.equal(mover.kind, 'private-ip');
    assert.deepEqual(await mover.move(target), { target: 'eni-b/10.0.0.100' });
    const assign = ec2Mock.commandCalls(AssignPrivateIpAddressesCommand);
    assert.equal(assign.length, 1);
    assert.deepEqual(assign[0]!.args[0].input, {
      NetworkInterfaceId: 'eni-b',
      PrivateIpAddresses: [VIP],
      AllowReassignment: true,
    });
    const describes = ec2Mock.commandCalls(DescribeNetworkInterfacesCommand);
    assert.equal(describes.length, 1);
    assert.deepEqual(describes[0]!.args[0].input, { NetworkInterfaceIds: ['eni-b'] });
  });

  it('re-checks until the interface lists the address', async () => {
    ec2Mock.on(AssignPrivateIpAddressesCommand).resolves({});
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolvesOnce(eni('eni-b', '10.0.0.12')).resolves(eni('eni-b', '10.0.0.12', VIP));
    const ft = fakeTime();
    assert.deepEqual(await new PrivateIpMover(ec2, VIP, ft.tuning).move(target), { target: 'eni-b/10.0.0.100' });
    assert.equal(ec2Mock.commandCalls(DescribeNetworkInterfacesCommand).length, 2);
    assert.deepEqual(ft.sleeps, [200]);
  });

  it('pointsAt is true only when the target interface holds the address', async () => {
    const mover = new PrivateIpMover(ec2, VIP, fakeTime().tuning);
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves(eni('eni-b', '10.0.0.12', VIP));
    assert.equal(await mover.pointsAt(target), true);
    assert.deepEqual(ec2Mock.commandCalls(DescribeNetworkInterfacesCommand)[0]!.args[0].input, { NetworkInterfaceIds: ['eni-b'] });
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves(eni('eni-b', '10.0.0.12'));
    assert.equal(await mover.pointsAt(target), false);
    assert.equal(ec2Mock.calls().filter((c) => c.args[0] instanceof AssignPrivateIpAddressesCommand).length, 0);
  });

  it('refuses a target without a network interface, naming the member', async () => {
    const { networkInterfaceId: _, ...noEni } = target;
    await assert.rejects(new PrivateIpMover(ec2, VIP).move(noEni), (e) => e instanceof EndpointTargetError && /member pg-b/.test(e.message));
    assert.equal(ec2Mock.calls().length, 0);
  });

  it('retries throttling, then succeeds', async () => {
    ec2Mock.on(AssignPrivateIpAddressesCommand).rejectsOnce(awsError('RequestLimitExceeded', 503)).resolves({});
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves(eni('eni-b', VIP));
    const ft = fakeTime();
    assert.deepEqual(await new PrivateIpMover(ec2, VIP, ft.tuning).move(target), { target: 'eni-b/10.0.0.100' });
    assert.equal(ec2Mock.commandCalls(AssignPrivateIpAddressesCommand).length, 2);
  });

  it('throws EndpointUnavailableError within the deadline when throttling never stops', async () => {
    ec2Mock.on(AssignPrivateIpAddressesCommand).rejects(awsError('RequestLimitExceeded', 503));
    const ft = fakeTime();
    await assert.rejects(new PrivateIpMover(ec2, VIP, ft.tuning).move(target, { timeoutMs: 2_000 }), EndpointUnavailableError);
    assert.ok(ft.elapsed() <= 2_000);
  });

  it('maps permission and not-found errors, naming the resource', async () => {
    ec2Mock.on(AssignPrivateIpAddressesCommand).rejects(awsError('UnauthorizedOperation', 403));
    const mover = new PrivateIpMover(ec2, VIP, fakeTime().tuning);
    await assert.rejects(mover.move(target), (e) => {
      assert.ok(e instanceof EndpointPermissionError);
      assert.match(e.message, /ec2:AssignPrivateIpAddresses on private IP 10\.0\.0\.100 and network interface eni-b/);
      return true;
    });
    ec2Mock.on(DescribeNetworkInterfacesCommand).rejects(awsError('InvalidNetworkInterfaceID.NotFound', 400));
    await assert.rejects(mover.pointsAt(target), (e) => e instanceof EndpointNotFoundError && /network interface eni-b/.test(e.message));
  });
});
