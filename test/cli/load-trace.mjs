// Preloaded with `node --import`: appends the URL of every file module the
// process loads, one a line, to the file named by PGFLOAT_LOAD_TRACE. The
// CLI tests use it to see which bundle chunks a command loads.
import { register } from 'node:module';

const hooks = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(file, url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url, { data: { file: process.env.PGFLOAT_LOAD_TRACE } });
