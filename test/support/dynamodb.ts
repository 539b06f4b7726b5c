// DynamoDB Local for a test file: the run's shared engine when test/run.ts
// started one, else an engine of the file's own (stopped with the last table
// that uses it, and in any case when the process exits). Each call gets a
// fresh table.
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../../lib/dcs/client.js';
import { ensureTable } from '../../lib/dcs/table.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local.js';

let own: Promise<DynamoDbLocal> | undefined;
let users = 0;

async function endpoint(): Promise<string> {
  const shared = process.env.PGFLOAT_TEST_DYNAMODB_ENDPOINT;
  if (shared !== undefined && shared !== '') return shared;
  own ??= startDynamoDbLocal();
  return (await own).endpoint;
}

export interface TestTable {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly tableName: string;
  close(): Promise<void>;
}

export async function freshTable(): Promise<TestTable> {
  users += 1;
  const ep = await endpoint();
  const client = createDynamoDbClient({ endpoint: ep });
  const tableName = `pgfloat-test-${randomUUID().slice(0, 8)}`;
  await ensureTable(client, tableName);
  return {
    endpoint: ep,
    client,
    tableName,
    close: async () => {
      client.destroy();
      users -= 1;
      if (users === 0 && own !== undefined) {
        const engine = own;
        own = undefined;
        await (await engine).stop();
      }
    },
  };
}
