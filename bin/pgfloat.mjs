#!/usr/bin/env node
// The pgfloat operator CLI (lib/cli). It runs the esbuild bundle of the CLI,
// .build/cli/<build>/index.mjs, on plain node: starting tsx and loading the
// AWS SDK from source took most of a second before any command ran, and the
// bundle loads the SDK only for commands that talk to DynamoDB.
// The bundle is built here when it is missing or any file it was built from
// changed (cliBundle in scripts/bundle.mjs); when it cannot be built (e.g. a
// read-only checkout) the CLI runs from source through tsx.
import { pathToFileURL } from 'node:url';
import { cliBundle } from '../scripts/bundle.mjs';

const why = (err) => (err instanceof Error ? err.message : String(err));

let entry = null;
try {
  entry = await cliBundle();
} catch (err) {
  process.stderr.write(`pgfloat: cannot bundle the CLI into .build/cli (${why(err)}); running it from source\n`);
}
if (entry !== null) {
  await import(pathToFileURL(entry).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch (err) {
    process.stderr.write(`pgfloat: cannot run the CLI from source either (${why(err)}): install the packages with npm ci\n`);
    process.exit(1);
  }
  register();
  await import('../lib/cli/bin.ts');
}
