// Elastic IP endpoint: the address of `allocationId` is associated with the
// primary's network interface (and private IP when known), taking it from the
// old primary (AllowReassociation), then read back until it shows there.
import { AssociateAddressCommand, DescribeAddressesCommand, type Address } from '@aws-sdk/client-ec2';
import { DEFAULT_VERIFY_ATTEMPTS, DEFAULT_VERIFY_INTERVAL_MS, type AwsMoverOptions, type Ec2Api } from './aws.js';
import { EndpointNotFoundError, EndpointVerifyError } from './errors.js';
import { requireNetworkInterface, type EndpointMover, type EndpointTarget, type MoveOptions } from './mover.js';
import { Deadline, recheck, withRetry } from './retry.js';

export class ElasticIpMover implements EndpointMover {
  readonly kind = 'elastic-ip' as const;

  constructor(
    private readonly ec2: Ec2Api,
    readonly allocationId: string,
    private readonly options: AwsMoverOptions = {},
  ) {}

  async move(t: EndpointTarget, o?: MoveOptions): Promise<{ target: string }> {
    const eni = requireNetworkInterface(t, 'elastic-ip');
    const d = new Deadline(o, this.options);
    await withRetry(
      { action: 'ec2:AssociateAddress', resource: `elastic IP ${this.allocationId} and network interface ${eni}` },
      d,
      (abortSignal) =>
        this.ec2.send(
          new AssociateAddressCommand({
            AllocationId: this.allocationId,
            NetworkInterfaceId: eni,
            ...(t.privateIp !== undefined ? { PrivateIpAddress: t.privateIp } : {}),
            AllowReassociation: true,
          }),
          { abortSignal },
        ),
    );
    const checked = await recheck(
      d,
      {
        attempts: this.options.verifyAttempts ?? DEFAULT_VERIFY_ATTEMPTS,
        intervalMs: this.options.verifyIntervalMs ?? DEFAULT_VERIFY_INTERVAL_MS,
      },
      async () => {
        const address = await this.describe(d);
        return { done: isOn(address, t), value: address };
      },
    );
    if (!checked.done) {
      throw new EndpointVerifyError(
        `elastic IP ${this.allocationId}`,
        `${eni}/${t.privateIp ?? '*'} (member ${t.member}, term ${t.term})`,
        where(checked.value),
      );
    }
    return { target: where(checked.value) };
  }

  async pointsAt(t: EndpointTarget, o?: MoveOptions): Promise<boolean> {
    // A member without a network interface cannot hold the address; move() says why.
    if (t.networkInterfaceId === undefined) return false;
    return isOn(await this.describe(new Deadline(o, this.options)), t);
  }

  async close(): Promise<void> {
    this.options.onClose?.();
  }

  private async describe(d: Deadline): Promise<Address> {
    const op = { action: 'ec2:DescribeAddresses', resource: `elastic IP ${this.allocationId}` };
    const out = await withRetry(op, d, (abortSignal) =>
      this.ec2.send(new DescribeAddressesCommand({ AllocationIds: [this.allocationId] }), { abortSignal }),
    );
    const address = out.Addresses?.find((a) => a.AllocationId === this.allocationId) ?? out.Addresses?.[0];
    if (address === undefined) {
      throw new EndpointNotFoundError(op.action, op.resource, new Error('DescribeAddresses returned no address'));
    }
    return address;
  }
}

function isOn(a: Address, t: EndpointTarget): boolean {
  return (
    t.networkInterfaceId !== undefined &&
    a.NetworkInterfaceId === t.networkInterfaceId &&
    (t.privateIp === undefined || a.PrivateIpAddress === t.privateIp)
  );
}

function where(a: Address): string {
  if (a.NetworkInterfaceId === undefined) return '(not associated)';
  return `${a.NetworkInterfaceId}/${a.PrivateIpAddress ?? '?'}`;
}
