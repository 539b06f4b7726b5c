import { MemoryStore } from '../../lib/dcs/memory-store.js';
import { storeContract } from './contract.js';

storeContract('in-memory twin', async () => {
  const store = new MemoryStore();
  return { store, putRaw: async (key, item) => store.putRaw(key, item), close: async () => {} };
});
