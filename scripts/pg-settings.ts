// Writes lib/postgres/pg15-settings.ts from a real PostgreSQL 15 server's
// pg_settings: the catalogue edit-config validates parameters against before
// anything is stored. test/postgres/settings-catalogue.test.ts fails when the
// file and the server disagree; run `node --import tsx scripts/pg-settings.ts`
// to regenerate it.
import { writeFile } from 'node:fs/promises';
import { TestCluster } from '../test/postgres/fixture.js';
import { readCatalogue, renderCatalogueModule } from '../lib/postgres/settings-catalogue.js';

const cluster = await TestCluster.create();
try {
  const node = await cluster.node('catalogue');
  await node.initdb({ noSync: true });
  await node.start();
  const defs = await node.withSession(readCatalogue);
  const path = new URL('../lib/postgres/pg15-settings.ts', import.meta.url);
  await writeFile(path, renderCatalogueModule(defs));
  process.stdout.write(`wrote ${defs.length} settings to ${path.pathname}\n`);
} finally {
  await cluster.cleanup();
}
