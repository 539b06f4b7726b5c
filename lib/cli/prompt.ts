// Confirmation on a terminal: the question on stderr, one line read from stdin.
import type { Input, Output } from './context.js';

export async function askYesNo(input: Input, output: Output, question: string): Promise<boolean> {
  output.write(`${question} [y/N]: `);
  let line = '';
  for await (const chunk of input) {
    line += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    const nl = line.indexOf('\n');
    if (nl >= 0) {
      line = line.slice(0, nl);
      break;
    }
  }
  return /^\s*y(es)?\s*$/i.test(line);
}

export async function readAll(input: Input): Promise<string> {
  let text = '';
  for await (const chunk of input) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
  return text;
}
