// The watchdog device as a second fence: opened and kept alive while a
// lease is armed, stopped with the magic 'V' when disarmed; a device whose
// timeout is longer than the lease left is refused in mode `required` (no
// promotion can rest on it) and left unused in mode `automatic`. A regular
// file stands in for /dev/watchdog, a directory with a `timeout` file for
// its sysfs entry; the fence keeper is the real process.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FenceKeeperError } from '../../lib/agent/errors.js';
import { FenceKeeper } from '../../lib/agent/fence-keeper.js';
import { WatchdogFence, type WatchdogMode } from '../../lib/agent/watchdog.js';
import { waitFor } from '../postgres/fixture.js';

const dir = mkdtempSync('/tmp/pgf-wd-');
let n = 0;

function setup(mode: WatchdogMode, timeoutS: number): { fence: WatchdogFence; device: string; logged: string[] } {
  const i = ++n;
  const sysfs = join(dir, `sys${i}`);
  rmSync(sysfs, { recursive: true, force: true });
  mkdirSync(sysfs, { recursive: true });
  writeFileSync(join(sysfs, 'timeout'), `${timeoutS}\n`);
  const device = join(dir, `watchdog${i}`);
  const logged: string[] = [];
  const keeper = new FenceKeeper({ dataDir: join(dir, `data${i}`), socketPath: join(dir, `k${i}.sock`) });
  const fence = new WatchdogFence(keeper, { mode, device, sysfsDir: sysfs, keepaliveMs: 20, log: (l) => logged.push(l) });
  return { fence, device, logged };
}

describe('watchdog fence', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('kept alive while the lease is armed, stopped with the magic close when disarmed', async () => {
    // Prepare
    const { fence, device } = setup('required', 5);

    // Act
    await fence.arm(performance.now() + 8_000);
    await waitFor('keepalives from the agent loop', async () => (readFileSync(device, 'utf8').length >= 3 ? true : undefined), { timeoutMs: 30_000 });
    await fence.disarm();
    fence.close();

    // Assess
    assert.match(readFileSync(device, 'utf8'), /^1{3,}V$/);
  });

  test('required: a device that would fire after the lease ends refuses the lease and is never started', async () => {
    // Prepare
    const { fence, device } = setup('required', 60);

    // Act + Assess
    await assert.rejects(fence.arm(performance.now() + 8_000), (err: Error) => err instanceof FenceKeeperError && /fires 60 s after the last keepalive.*soft_margin=/.test(err.message));
    assert.equal(existsSync(device), false, 'the device was not opened');
    await fence.disarm();
    fence.close();
  });

  test('automatic: such a device is left unused, with a warning, and the lease still holds through the keeper', async () => {
    // Prepare
    const { fence, device, logged } = setup('automatic', 60);

    // Act
    await fence.arm(performance.now() + 8_000);

    // Assess
    assert.equal(existsSync(device), false);
    assert.match(logged.join('\n'), /watchdog not used: .* fires 60 s/);
    assert.equal(fence.isArmed, true, 'the fence keeper holds the lease');
    await fence.disarm();
    fence.close();
  });
});
