// The test command: starts one DynamoDB Local engine for the whole run, runs
// every test/**/*.test.ts with Node's test runner, and stops the engine
// however the run ends. Arguments narrow the run to matching file paths.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';

const root = join(import.meta.dirname, '..');
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('test', f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const engine = await startDynamoDbLocal();
console.log(`DynamoDB Local on ${engine.endpoint} for ${files.length} test files`);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, PGFLOAT_TEST_DYNAMODB_ENDPOINT: engine.endpoint } },
);
const forward = (signal: NodeJS.Signals): void => {
  child.kill(signal);
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await engine.stop();
console.log(`ran ${files.length} test files in ${relative(process.cwd(), root) || '.'}`);
process.exit(code);
