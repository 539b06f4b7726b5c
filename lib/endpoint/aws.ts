// The narrow AWS client interfaces the movers use (an EC2Client or
// Route53Client satisfies them, and aws-sdk-client-mock can mock them), and
// the options shared by the AWS movers.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { RetryTuning } from './retry.js';

export type Ec2Api = Pick<EC2Client, 'send'>;
export type Route53Api = Pick<Route53Client, 'send'>;

export interface AwsMoverOptions extends RetryTuning {
  /** How many times a move reads back the change before giving up (default 5). */
  readonly verifyAttempts?: number;
  /** Pause between those reads, and between GetChange polls (default 300 ms). */
  readonly verifyIntervalMs?: number;
  /** Run by close(): releases a client the mover owns. */
  readonly onClose?: () => void;
}

export const DEFAULT_VERIFY_ATTEMPTS = 5;
export const DEFAULT_VERIFY_INTERVAL_MS = 300;
