// Secondary private IP endpoint: `address` is assigned to the primary's
// network interface, taking it from the old primary (AllowReassignment), then
// read back until the interface lists it. The operating system of the new
// primary must bring the address up on the interface (ec2-net-utils on Amazon
// Linux does; elsewhere configure it).
import {
  AssignPrivateIpAddressesCommand,
  DescribeNetworkInterfacesCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { DEFAULT_VERIFY_ATTEMPTS, DEFAULT_VERIFY_INTERVAL_MS, type AwsMoverOptions, type Ec2Api } from './aws.js';
import { EndpointNotFoundError, EndpointVerifyError } from './errors.js';
import { requireNetworkInterface, type EndpointMover, type EndpointTarget, type MoveOptions } from './mover.js';
import { Deadline, recheck, withRetry } from './retry.js';

export class PrivateIpMover implements EndpointMover {
  readonly kind = 'private-ip' as const;

  constructor(
    private readonly ec2: Ec2Api,
    readonly address: string,
    private readonly options: AwsMoverOptions = {},
  ) {}

  async move(t: EndpointTarget, o?: MoveOptions): Promise<{ target: string }> {
    const eni = requireNetworkInterface(t, 'private-ip');
    const d = new Deadline(o, this.options);
    await withRetry(
      { action: 'ec2:AssignPrivateIpAddresses', resource: `private IP ${this.address} and network interface ${eni}` },
      d,
      (abortSignal) =>
        this.ec2.send(
          new AssignPrivateIpAddressesCommand({
            NetworkInterfaceId: eni,
            PrivateIpAddresses: [this.address],
            AllowReassignment: true,
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
        const ni = await this.describe(eni, d);
        return { done: this.holds(ni), value: ni };
      },
    );
    if (!checked.done) {
      throw new EndpointVerifyError(
        `private IP ${this.address}`,
        `${eni} (member ${t.member}, term ${t.term})`,
        `a network interface other than ${eni}`,
      );
    }
    return { target: `${eni}/${this.address}` };
  }

  async pointsAt(t: EndpointTarget, o?: MoveOptions): Promise<boolean> {
    if (t.networkInterfaceId === undefined) return false;
    return this.holds(await this.describe(t.networkInterfaceId, new Deadline(o, this.options)));
  }

  async close(): Promise<void> {
    this.options.onClose?.();
  }

  private holds(ni: NetworkInterface): boolean {
    return (ni.PrivateIpAddresses ?? []).some((p) => p.PrivateIpAddress === this.address);
  }

  private async describe(eni: string, d: Deadline): Promise<NetworkInterface> {
    const op = { action: 'ec2:DescribeNetworkInterfaces', resource: `network interface ${eni}` };
    const out = await withRetry(op, d, (abortSignal) =>
      this.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni] }), { abortSignal }),
    );
    const ni = out.NetworkInterfaces?.find((n) => n.NetworkInterfaceId === eni) ?? out.NetworkInterfaces?.[0];
    if (ni === undefined) {
      throw new EndpointNotFoundError(op.action, op.resource, new Error('DescribeNetworkInterfaces returned no interface'));
    }
    return ni;
  }
}
