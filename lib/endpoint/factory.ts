// Picks the endpoint mover for a cluster's endpoint config.
import { EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import type { EndpointConfig } from '../dcs/items.js';
import type { AwsMoverOptions, Ec2Api, Route53Api } from './aws.js';
import { ElasticIpMover } from './elastic-ip.js';
import { LocalProxy, LocalProxyMover } from './local-proxy.js';
import type { EndpointMover, EndpointTarget, MoveOptions } from './mover.js';
import { PrivateIpMover } from './private-ip.js';
import { Route53Mover } from './route53.js';

export interface MoverDeps {
  /** Default: a new EC2Client (region and credentials from the environment), destroyed by close(). */
  readonly ec2?: Ec2Api;
  /** Default: a new Route53Client, destroyed by close(). */
  readonly route53?: Route53Api;
  /** Default: a new LocalProxy on the configured host and port, listening from the first move, closed by close(). */
  readonly proxy?: LocalProxy;
  /** Retry and verification timing of the AWS movers. */
  readonly tuning?: Omit<AwsMoverOptions, 'onClose'>;
}

/** The endpoint of kind `none`: nothing to move. */
export class NoneMover implements EndpointMover {
  readonly kind = 'none' as const;
  async move(_t?: EndpointTarget, _o?: MoveOptions): Promise<{ target: string }> {
    return { target: 'none' };
  }
  async pointsAt(_t?: EndpointTarget, _o?: MoveOptions): Promise<boolean> {
    return true;
  }
}

export function createMover(config: EndpointConfig, deps: MoverDeps = {}): EndpointMover {
  const tuning = deps.tuning ?? {};
  switch (config.kind) {
    case 'none':
      return new NoneMover();
    case 'elastic-ip': {
      const { api, onClose } = ec2Of(deps);
      return new ElasticIpMover(api, config.allocationId, { ...tuning, onClose });
    }
    case 'private-ip': {
      const { api, onClose } = ec2Of(deps);
      return new PrivateIpMover(api, config.address, { ...tuning, onClose });
    }
    case 'route53': {
      const { api, onClose } = route53Of(deps);
      const { hostedZoneId, recordName, ttl, waitForSync } = config;
      return new Route53Mover(api, { hostedZoneId, recordName, ttl, waitForSync }, { ...tuning, onClose });
    }
    case 'local-proxy':
      return deps.proxy !== undefined
        ? new LocalProxyMover(deps.proxy)
        : new LocalProxyMover(new LocalProxy({ host: config.host, port: config.port }), true);
  }
}

function ec2Of(deps: MoverDeps): { api: Ec2Api; onClose: () => void } {
  if (deps.ec2 !== undefined) return { api: deps.ec2, onClose: () => {} };
  const client = new EC2Client({});
  return { api: client, onClose: () => client.destroy() };
}

function route53Of(deps: MoverDeps): { api: Route53Api; onClose: () => void } {
  if (deps.route53 !== undefined) return { api: deps.route53, onClose: () => {} };
  const client = new Route53Client({});
  return { api: client, onClose: () => client.destroy() };
}
