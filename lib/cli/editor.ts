// Editing text in the operator's editor, as patronictl edit-config does:
// $VISUAL, else $EDITOR, else vi, split on whitespace ("code --wait"), run
// on the terminal with the file to edit as its last argument. The file lives
// in a directory of its own under the system temp directory, readable by
// its owner only, and is removed before editText returns or throws.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefusedError } from './errors.js';

export function editorCommand(env: Readonly<Record<string, string | undefined>>): string[] {
  for (const raw of [env.VISUAL, env.EDITOR]) {
    const words = (raw ?? '').split(/\s+/).filter((w) => w !== '');
    if (words.length > 0) return words;
  }
  return ['vi'];
}

function runEditor(words: readonly string[], file: string, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const [cmd = 'vi', ...rest] = words;
  const shown = words.join(' ');
  // The editor owns the terminal: an interrupt is its to handle, and must not
  // end this process before the file is removed.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, [...rest, file], { stdio: 'inherit', env: { ...env } });
    child.once('error', (err) => {
      const code = (err as { code?: string }).code ?? err.message;
      reject(new RefusedError(`editor ${shown} could not be started (${code}): set VISUAL or EDITOR; nothing written`, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else if (code !== null) reject(new RefusedError(`editor ${shown} exited with ${code}; nothing written`));
      else reject(new RefusedError(`editor ${shown} was ended by ${signal ?? 'a signal'}; nothing written`));
    });
  }).finally(() => process.off('SIGINT', ignore));
}

/** The text after the operator edited it; RefusedError when the editor fails. */
export async function editText(text: string, fileName: string, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgfloat-edit-'));
  try {
    const file = join(dir, fileName);
    await writeFile(file, text, { mode: 0o600, flag: 'wx' });
    await runEditor(editorCommand(env), file, env);
    return await readFile(file, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
