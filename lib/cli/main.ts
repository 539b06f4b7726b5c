// The operator CLI, in the spirit of patronictl. `main` runs one command
// line and returns the exit code: 0 done, 1 refused or failed, 2 the command
// line is wrong. Nothing is written unless the command says it was.
import { hostname, userInfo } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DcsError } from '../dcs/errors.js';
import { parseCommandLine, resolveTarget, splitCommand, splitPositionals, type Target } from './args.js';
import { COMMANDS } from './commands/index.js';
import type { CliDeps, CliIo, CommandContext, Reporter } from './context.js';
import { CliError, MissingClusterError, RefusedError, UsageError } from './errors.js';
import { askYesNo, readAll } from './prompt.js';
import { commandUsage, generalUsage } from './usage.js';

export type { CliDeps, CliIo } from './context.js';

function defaultOperator(env: CliIo['env']): string {
  let user = env.USER ?? env.LOGNAME ?? env.USERNAME;
  if (user === undefined || user === '') {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `${user}@${hostname()}`;
}

function makeReporter(io: CliIo, json: boolean): Reporter {
  return {
    io,
    json,
    say(line) {
      (json ? io.stderr : io.stdout).write(`${line}\n`);
    },
    result(value) {
      if (json) io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

function makeContext(io: CliIo, deps: CliDeps, store: CommandContext['store'], target: Target, json: boolean): CommandContext {
  let stdinUsed = false;
  return {
    ...makeReporter(io, json),
    store,
    cluster: target.cluster,
    apiAuth: target.apiAuth,
    operator: deps.operator ?? defaultOperator(io.env),
    pollMs: deps.pollMs ?? 250,
    now: deps.now ?? Date.now,
    elapsed: deps.elapsed ?? (() => performance.now()),
    sleep: deps.sleep ?? ((ms) => delay(ms)),
    async confirm(question, force) {
      if (force) return;
      let yes: boolean;
      if (deps.confirm !== undefined) {
        yes = await deps.confirm(question);
      } else if (io.stdin?.isTTY === true && !stdinUsed) {
        yes = await askYesNo(io.stdin, io.stderr, question);
      } else {
        throw new RefusedError(`not confirmed: stdin is not a terminal to ask "${question}" on: pass --force to go ahead without asking; nothing written`);
      }
      if (!yes) throw new RefusedError('Aborted: nothing written');
    },
    async readStdin() {
      if (io.stdin === undefined) throw new Error('no standard input');
      stdinUsed = true;
      return readAll(io.stdin);
    },
  };
}

export async function main(argv: readonly string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  let client: DynamoDBClient | undefined;
  let command: string | null = null;
  try {
    const { name, rest } = splitCommand(argv);
    if (name === null || name === 'help') {
      const { values, positionals } = parseCommandLine(null, rest);
      const topic = name === 'help' ? COMMANDS.find((c) => c.name === positionals[0]) : undefined;
      if (topic !== undefined) {
        io.stdout.write(`${commandUsage(topic)}\n`);
        return 0;
      }
      if (values.help === true || name === 'help') {
        io.stdout.write(`${generalUsage(COMMANDS)}\n`);
        return 0;
      }
      throw new UsageError('missing command: give one of the commands below', null);
    }
    const spec = COMMANDS.find((c) => c.name === name);
    if (spec === undefined) {
      throw new UsageError(`unknown command "${name}": the commands are ${COMMANDS.map((c) => c.name).join(', ')}`, null);
    }
    command = spec.name;
    const { values, positionals } = parseCommandLine(spec, rest);
    if (values.help === true) {
      io.stdout.write(`${commandUsage(spec)}\n`);
      return 0;
    }
    const { cluster, own } = splitPositionals(spec, positionals);
    spec.checkPositionals?.(own);
    let target: Target;
    try {
      target = await resolveTarget(spec, values, cluster, io.env);
    } catch (err) {
      if (err instanceof MissingClusterError && spec.runWithoutCluster !== undefined) {
        return await spec.runWithoutCluster(makeReporter(io, values.json === true), { values, positionals: own });
      }
      throw err;
    }
    let store = deps.store;
    if (store === undefined) {
      // The AWS SDK is most of the CLI's start-up time: load it only for a
      // command that talks to DynamoDB (not for --help or a usage error).
      const [{ createDynamoDbClient }, { DynamoDbStore }] = await Promise.all([
        import('../dcs/client.js'),
        import('../dcs/dynamodb-store.js'),
      ]);
      client = createDynamoDbClient({
        ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
        ...(target.region === undefined ? {} : { region: target.region }),
      });
      store = new DynamoDbStore({ client, tableName: target.table });
    }
    const ctx = makeContext(io, deps, store, target, values.json === true);
    return await spec.run(ctx, { values, positionals: own });
  } catch (err) {
    if (err instanceof UsageError) {
      const spec = COMMANDS.find((c) => c.name === (err.command ?? command));
      const usage = spec === undefined ? generalUsage(COMMANDS) : commandUsage(spec);
      io.stderr.write(`pgfloat: ${err.message}\n\n${usage}\n`);
      return err.exitCode;
    }
    if (err instanceof CliError) {
      io.stderr.write(`pgfloat: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof DcsError) {
      io.stderr.write(`pgfloat: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`pgfloat: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    client?.destroy();
  }
}
