export * from './store.js';
export * from './items.js';
export * from './keys.js';
export * from './errors.js';
export * from './snapshot.js';
export { DynamoDbStore, type DynamoDbApi, type DynamoDbStoreOptions } from './dynamodb-store.js';
export { MemoryStore } from './memory-store.js';
export { TABLE_DEFINITION, DEFAULT_TABLE_NAME, createTableInput, ensureTable } from './table.js';
export { createDynamoDbClient } from './client.js';
