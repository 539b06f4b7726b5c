// lib/agent/callbacks.ts with real scripts in a temporary directory: the
// arguments Patroni passes, the timeout, what is logged and at which level,
// one run of an action at a time, and never a throw.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Callbacks, type CallbackSettings } from '../../lib/agent/callbacks.js';

const dir = mkdtempSync(join(tmpdir(), 'pgf-cb-'));
// As root the scripts run as postgres: it must reach the scripts and the files they write.
chmodSync(dir, 0o777);
after(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

class Log {
  readonly lines: { level: 'info' | 'warn'; message: string }[] = [];
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
}

function callbacks(s: Partial<CallbackSettings>): { cb: Callbacks; log: Log } {
  const log = new Log();
  return { cb: new Callbacks({ scripts: {}, timeoutMs: 5_000, scope: 'orders', osUser: 'postgres', ...s }, log), log };
}

describe('callbacks', () => {
  test('a callback gets <action> <role> <scope>, and its output is logged at info', async () => {
    // Prepare
    const out = join(dir, 'args.txt');
    const s = script('record.sh', `echo "$@" >> ${out}; echo said-hello; echo on-stderr >&2`);
    const { cb, log } = callbacks({ scripts: { on_start: s, on_role_change: s } });
    // Act
    cb.fire('on_start', 'replica');
    await cb.idle();
    cb.fire('on_role_change', async () => 'primary');
    await cb.idle();
    // Assess
    assert.equal(readFileSync(out, 'utf8'), 'on_start replica orders\non_role_change primary orders\n');
    assert.equal(log.lines.length, 2);
    assert.equal(log.lines[0]?.level, 'info');
    assert.match(log.lines[0]?.message ?? '', /on_start replica orders: exited with status 0 .*stdout: said-hello; stderr: on-stderr/);
  });

  test('fire returns at once: the caller never waits for the script', async () => {
    // Prepare: a script that finishes only once the test opens its gate (bounded: about 30 s)
    const gate = join(dir, 'gate');
    const done = join(dir, 'gated-done');
    const { cb } = callbacks({ scripts: { on_stop: script('gated.sh', `i=0; while [ ! -e ${gate} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo done > ${done}`) } });
    // Act
    cb.fire('on_stop', 'primary');
    const finishedBeforeReturn = existsSync(done);
    writeFileSync(gate, '');
    chmodSync(gate, 0o666);
    await cb.idle();
    // Assess: fire came back while the script still waited; the script then ran to its end
    assert.equal(finishedBeforeReturn, false);
    assert.equal(readFileSync(done, 'utf8'), 'done\n');
  });

  test('a failing script is logged at warn with its status and output, and nothing throws', async () => {
    // Prepare
    const { cb, log } = callbacks({ scripts: { on_reload: script('fail.sh', 'echo broken >&2; exit 3') } });
    // Act
    cb.fire('on_reload', 'primary');
    await cb.idle();
    // Assess
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0]?.level, 'warn');
    assert.match(log.lines[0]?.message ?? '', /exited with status 3; stderr: broken/);
  });

  test('a hung script is killed at the timeout and logged at warn', async () => {
    // Prepare
    const pidFile = join(dir, 'hung.pid');
    const { cb, log } = callbacks({ scripts: { on_restart: script('hang.sh', `echo $$ > ${pidFile}; sleep 60`) }, timeoutMs: 300 });
    // Act
    const began = performance.now();
    cb.fire('on_restart', 'replica');
    await cb.idle();
    // Assess
    assert.ok(performance.now() - began < 10_000);
    assert.match(log.lines[0]?.message ?? '', /killed after the timeout of 0.3 s/);
    assert.equal(log.lines[0]?.level, 'warn');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });

  test('a script that does not exist is a warning, not a throw', async () => {
    // Prepare
    const { cb, log } = callbacks({ scripts: { on_start: join(dir, 'missing.sh') } });
    // Act
    cb.fire('on_start', 'replica');
    await cb.idle();
    // Assess
    assert.equal(log.lines[0]?.level, 'warn');
  });

  test('one run of an action at a time: those fired meanwhile collapse into the newest, run after', async () => {
    // Prepare
    const out = join(dir, 'serial.txt');
    const s = script('serial.sh', `echo "begin $2" >> ${out}; sleep 0.3; echo "end $2" >> ${out}`);
    const { cb } = callbacks({ scripts: { on_role_change: s } });
    // Act
    cb.fire('on_role_change', 'primary');
    cb.fire('on_role_change', 'replica');
    cb.fire('on_role_change', 'primary');
    await cb.idle();
    // Assess: never two at once; the middle one dropped, the newest run.
    assert.equal(readFileSync(out, 'utf8'), 'begin primary\nend primary\nbegin primary\nend primary\n');
  });

  test('long output is cut to a few KB in the log', async () => {
    // Prepare
    const { cb, log } = callbacks({ scripts: { on_start: script('loud.sh', 'head -c 100000 /dev/zero | tr "\\0" x') } });
    // Act
    cb.fire('on_start', 'replica');
    await cb.idle();
    // Assess
    const line = log.lines[0]?.message ?? '';
    assert.ok(line.length < 6_000, `${line.length} characters`);
    assert.match(line, /more characters\)/);
  });

  test('no script configured: nothing runs, nothing is logged', async () => {
    const { cb, log } = callbacks({});
    cb.fire('on_start', 'replica');
    await cb.idle();
    assert.deepEqual(log.lines, []);
  });

  test('role changes between readings fire on_role_change with the new role, not the first reading', async () => {
    // Prepare
    const out = join(dir, 'roles.txt');
    const { cb } = callbacks({ scripts: { on_role_change: script('roles.sh', `echo "$2" >> ${out}`) } });
    // Act
    for (const role of ['replica', 'replica', null, 'primary', 'primary', 'replica'] as const) {
      cb.observeRole(role);
      await cb.idle();
    }
    // Assess
    assert.equal(readFileSync(out, 'utf8'), 'primary\nreplica\n');
  });

  test('pre_promote: exit 0 is ok; non-zero and a timeout are vetoes with the reason; none configured is ok', async () => {
    // Prepare
    const yes = callbacks({ prePromote: script('yes.sh', 'exit 0') });
    const no = callbacks({ prePromote: script('no.sh', 'echo fenced-elsewhere; exit 1') });
    const slow = callbacks({ prePromote: script('slow-pre.sh', 'sleep 60'), timeoutMs: 300 });
    const none = callbacks({});
    // Act
    const answers = await Promise.all([yes.cb.prePromote(), no.cb.prePromote(), slow.cb.prePromote(), none.cb.prePromote()]);
    // Assess
    assert.deepEqual(answers.map((a) => a.ok), [true, false, false, true]);
    assert.match(answers[1]?.message ?? '', /exited with status 1/);
    assert.match(answers[2]?.message ?? '', /killed after the timeout/);
    assert.equal(no.log.lines[0]?.level, 'warn');
    assert.match(no.log.lines[0]?.message ?? '', /stdout: fenced-elsewhere/);
    assert.equal(yes.log.lines[0]?.level, 'info');
  });

  test('the agent maps its own operations to callbacks: start, standby start, restart, stop; a failed one fires nothing', async () => {
    // Prepare
    const out = join(dir, 'ops.txt');
    const s = script('ops.sh', `echo "$1 $2" >> ${out}`);
    const { cb } = callbacks({ scripts: { on_start: s, on_stop: s, on_restart: s } });
    const now = async () => 'primary' as const;
    // Act
    for (const [op, ok] of [['startStandby', true], ['restart', true], ['stop', true], ['start', false], ['promote', true]] as const) {
      cb.afterPg(op, ok, now, 'replica');
      await cb.idle();
    }
    // Assess
    assert.equal(readFileSync(out, 'utf8'), 'on_start replica\non_restart primary\non_stop replica\n');
  });
});
