#!/usr/bin/env node
// Bundles the Lambda functions with esbuild, one ES module per function, into
// .build/<function>/index.mjs (plus its source map). serverless.yml packages
// exactly these files, so what is deployed is what was bundled here.
// Every dependency is bundled, the AWS SDK included: the function runs the
// versions pinned in package-lock.json, not whichever SDK the runtime ships.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Function name (as in serverless.yml) -> entry point exporting `handler`. */
export const FUNCTIONS = {
  arbiter: 'functions/arbiter/handler.ts',
};

/** The node agent, a program rather than a handler: .build/agent/index.mjs, installed as /opt/pgfloat/agent.mjs. */
export const PROGRAMS = {
  agent: 'lib/agent/bin.ts',
};

// An ES module bundle still contains CommonJS dependencies that call
// require(), __filename or __dirname; give them the ESM equivalents.
const banner = [
  "import { createRequire as __pgfloatCreateRequire } from 'node:module';",
  "import { fileURLToPath as __pgfloatFileURLToPath } from 'node:url';",
  "import { dirname as __pgfloatDirname } from 'node:path';",
  'const require = __pgfloatCreateRequire(import.meta.url);',
  'const __filename = __pgfloatFileURLToPath(import.meta.url);',
  'const __dirname = __pgfloatDirname(__filename);',
].join('\n');

export async function bundle(names = Object.keys(FUNCTIONS)) {
  const outputs = [];
  for (const name of names) {
    const entry = FUNCTIONS[name] ?? PROGRAMS[name];
    if (entry === undefined) {
      const known = [...Object.keys(FUNCTIONS), ...Object.keys(PROGRAMS)].join(', ');
      throw new Error(`bundle: nothing named "${name}" (known: ${known}): add it to FUNCTIONS or PROGRAMS in scripts/bundle.mjs`);
    }
    const outdir = join(root, '.build', name);
    rmSync(outdir, { recursive: true, force: true });
    const result = await build({
      absWorkingDir: root,
      entryPoints: { index: join(root, entry) },
      outdir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      // Powertools and the AWS SDK publish "module" builds; prefer them so tree shaking works.
      mainFields: ['module', 'main'],
      banner: { js: banner },
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      legalComments: 'none',
      metafile: true,
      logLevel: 'warning',
    });
    const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
    outputs.push({ name, outdir: relative(root, outdir), bytes });
  }
  return outputs;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const names = process.argv.slice(2);
  const outputs = await bundle(names.length > 0 ? names : undefined);
  for (const o of outputs) {
    const digest = createHash('sha256').update(readFileSync(join(root, o.outdir, 'index.mjs'))).digest('hex');
    process.stdout.write(`bundled ${o.name} into ${o.outdir}/index.mjs (${(o.bytes / 1024).toFixed(0)} KiB with its source map), sha256 ${digest}\n`);
  }
}
