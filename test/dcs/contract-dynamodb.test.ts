import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DynamoDbStore } from '../../lib/dcs/dynamodb-store.js';
import { freshTable } from '../support/dynamodb.js';
import { storeContract } from './contract.js';

storeContract('DynamoDB Local', async () => {
  const { client, tableName, close } = await freshTable();
  const store = new DynamoDbStore({ client, tableName });
  return {
    store,
    close,
    putRaw: async (key, item) => {
      await client.send(new PutItemCommand({ TableName: tableName, Item: marshall({ ...item, ...key }, { removeUndefinedValues: true }) }));
    },
  };
});
