// Every command, in the order `pgfloat --help` lists them.
import type { CommandSpec } from '../command.js';
import { showConfig } from './config.js';
import { dsn } from './dsn.js';
import { editConfig } from './edit-config.js';
import { failover } from './failover.js';
import { flush } from './flush.js';
import { history } from './history.js';
import { list } from './list.js';
import { reinit, reload, restart } from './member-ops.js';
import { pause, resume } from './pause.js';
import { remove } from './remove.js';
import { switchover } from './switchover.js';
import { topology } from './topology.js';
import { version } from './version.js';

export const COMMANDS: readonly CommandSpec[] = [
  list,
  topology,
  switchover,
  failover,
  flush,
  restart,
  reload,
  reinit,
  pause,
  resume,
  showConfig,
  editConfig,
  history,
  dsn,
  remove,
  version,
];
