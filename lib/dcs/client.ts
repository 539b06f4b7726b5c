import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/dynamodb-local.js';

export interface ClientOptions {
  /** An endpoint such as http://127.0.0.1:8000 selects DynamoDB Local (fixed local credentials). */
  readonly endpoint?: string;
  readonly region?: string;
}

/**
 * A DynamoDB client for the store. The store does its own retries within the
 * caller's deadline, so the SDK makes one attempt per call and keeps its
 * connections alive. No request timeout here: each attempt is bounded by the
 * store's abort signal, which follows the caller's deadline (lib/dcs/retry.ts),
 * so a retry_timeout longer than any fixed bound is honoured.
 */
export function createDynamoDbClient(o: ClientOptions = {}): DynamoDBClient {
  const local = o.endpoint !== undefined;
  return new DynamoDBClient({
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000 }),
    ...(local
      ? { endpoint: o.endpoint, region: o.region ?? LOCAL_REGION, credentials: LOCAL_CREDENTIALS }
      : o.region !== undefined
        ? { region: o.region }
        : {}),
  });
}
