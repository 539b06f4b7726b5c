// Route 53 endpoint: an A record `recordName` in `hostedZoneId` holds the
// primary's private IP (UPSERT, so the move is idempotent). With waitForSync
// the move waits until Route 53 reports the change INSYNC on its name servers;
// clients still see the old address until their resolvers' TTL runs out.
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type ChangeInfo,
} from '@aws-sdk/client-route-53';
import { DEFAULT_VERIFY_INTERVAL_MS, type AwsMoverOptions, type Route53Api } from './aws.js';
import { EndpointError, EndpointUnavailableError } from './errors.js';
import { requirePrivateIp, type EndpointMover, type EndpointTarget, type MoveOptions } from './mover.js';
import { Deadline, withRetry } from './retry.js';

export interface Route53Settings {
  readonly hostedZoneId: string;
  readonly recordName: string;
  readonly ttl: number;
  readonly waitForSync: boolean;
}

export class Route53Mover implements EndpointMover {
  readonly kind = 'route53' as const;

  constructor(
    private readonly route53: Route53Api,
    readonly settings: Route53Settings,
    private readonly options: AwsMoverOptions = {},
  ) {}

  private get record(): string {
    return `record ${this.settings.recordName} (A) in hosted zone ${this.settings.hostedZoneId}`;
  }

  async move(t: EndpointTarget, o?: MoveOptions): Promise<{ target: string }> {
    const ip = requirePrivateIp(t, 'route53');
    const d = new Deadline(o, this.options);
    const { hostedZoneId, recordName, ttl } = this.settings;
    const out = await withRetry({ action: 'route53:ChangeResourceRecordSets', resource: this.record }, d, (abortSignal) =>
      this.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: hostedZoneId,
          ChangeBatch: {
            Comment: `pgfloat: primary ${t.member}, term ${t.term}`,
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: { Name: recordName, Type: 'A', TTL: ttl, ResourceRecords: [{ Value: ip }] },
              },
            ],
          },
        }),
        { abortSignal },
      ),
    );
    if (this.settings.waitForSync) await this.waitForSync(out.ChangeInfo, d);
    return { target: ip };
  }

  async pointsAt(t: EndpointTarget, o?: MoveOptions): Promise<boolean> {
    if (t.privateIp === undefined) return false;
    const d = new Deadline(o, this.options);
    const { hostedZoneId, recordName } = this.settings;
    const out = await withRetry({ action: 'route53:ListResourceRecordSets', resource: this.record }, d, (abortSignal) =>
      this.route53.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: hostedZoneId,
          StartRecordName: recordName,
          StartRecordType: 'A',
          MaxItems: 1,
        }),
        { abortSignal },
      ),
    );
    // The listing starts at the name; the first set may be a later one.
    const set = out.ResourceRecordSets?.[0];
    if (set === undefined || set.Type !== 'A' || sameName(set.Name ?? '', recordName) === false) return false;
    const values = (set.ResourceRecords ?? []).map((r) => r.Value);
    return values.length === 1 && values[0] === t.privateIp;
  }

  async close(): Promise<void> {
    this.options.onClose?.();
  }

  private async waitForSync(info: ChangeInfo | undefined, d: Deadline): Promise<void> {
    const id = info?.Id;
    if (id === undefined) {
      throw new EndpointError(`route53:ChangeResourceRecordSets on ${this.record} returned no change id to wait for`);
    }
    const interval = this.options.verifyIntervalMs ?? DEFAULT_VERIFY_INTERVAL_MS;
    const op = { action: 'route53:GetChange', resource: `change ${id} of ${this.record}` };
    let status = info?.Status;
    let polls = 0;
    while (status !== 'INSYNC') {
      if (d.remaining() <= interval) {
        throw new EndpointUnavailableError(op.action, op.resource, d.elapsed(), polls, new Error(`change still ${status ?? 'unknown'}`));
      }
      await d.sleep(interval, d.signal);
      polls++;
      const out = await withRetry(op, d, (abortSignal) => this.route53.send(new GetChangeCommand({ Id: id }), { abortSignal }));
      status = out.ChangeInfo?.Status;
    }
  }
}

/** Route 53 returns names fully qualified, lower case, with octal escapes (\052 for *). */
export function normalizeRecordName(name: string): string {
  return name
    .replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
    .replace(/\.$/, '')
    .toLowerCase();
}

function sameName(a: string, b: string): boolean {
  return normalizeRecordName(a) === normalizeRecordName(b);
}
