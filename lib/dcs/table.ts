// The table definition, once. The tests create it from here, the local
// cluster creates it from here, and the deployment templates are checked
// against it.
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateContinuousBackupsCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

export const DEFAULT_TABLE_NAME = 'pgfloat';

export const TABLE_DEFINITION = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  billingMode: 'PAY_PER_REQUEST',
  pointInTimeRecovery: true,
  serverSideEncryption: true,
  deletionProtection: true,
} as const;

export function createTableInput(tableName: string): CreateTableCommandInput {
  const d = TABLE_DEFINITION;
  return {
    TableName: tableName,
    KeySchema: [
      { AttributeName: d.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: d.sortKey.name, KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: d.partitionKey.name, AttributeType: d.partitionKey.type },
      { AttributeName: d.sortKey.name, AttributeType: d.sortKey.type },
    ],
    BillingMode: d.billingMode,
  };
}

/**
 * Creates the table if it does not exist and waits until it is ACTIVE, then
 * turns on point-in-time recovery where the service supports it.
 * Deletion protection and encryption are set by the deployment templates.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string, timeoutMs = 60_000): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (d.Table?.TableStatus === 'ACTIVE') break;
    if (Date.now() > deadline) throw new Error(`table ${tableName} not ACTIVE after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    await client.send(
      new UpdateContinuousBackupsCommand({
        TableName: tableName,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: TABLE_DEFINITION.pointInTimeRecovery },
      }),
    );
  } catch (err) {
    // DynamoDB Local does not implement continuous backups; real tables get PITR from the templates too.
    if ((err as { name?: string }).name !== 'UnknownOperationException') throw err;
  }
}
