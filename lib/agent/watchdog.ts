// Linux's watchdog device (/dev/watchdog, e.g. the softdog module) as a
// second fence beside the fence keeper, as Patroni offers it: while this
// node holds a lease the agent keeps the device alive from its own event
// loop; an agent frozen for longer than the device's timeout, or a machine
// that stalls as a whole, is reset by the kernel.
//
// Invariants:
// - The device is opened (and so started) only when a lease is armed, and
//   closed with the magic 'V' (stopped) only when it is disarmed.
// - Its timeout must not exceed the lease left at arming: a watchdog that
//   would fire after another node may be granted fences nothing. In mode
//   `required` such a lease is refused (no promotion); in `automatic` the
//   device is left unused, with a warning.
// - Past the lease deadline it is kept alive only while the fence keeper
//   reports that it has fenced; a keeper that does not answer lets it fire.
// Its timeout is set outside the agent (`modprobe softdog soft_margin=N`,
// or the driver's default); the agent reads it from sysfs.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FenceKeeperError } from './errors.js';
import type { Fence, FenceKeeper } from './fence-keeper.js';

export type WatchdogMode = 'off' | 'automatic' | 'required';

export interface WatchdogOptions {
  readonly mode: WatchdogMode;
  readonly device: string;
  /** Where the device's `timeout` (seconds) is read; default /sys/class/watchdog/<watchdog0 for /dev/watchdog>. */
  readonly sysfsDir?: string;
  readonly monotonic?: () => number;
  readonly log: (line: string) => void;
  /** How often the agent's loop keeps the device alive, ms. */
  readonly keepaliveMs?: number;
}

export class WatchdogFence implements Fence {
  private handle: FileHandle | null = null;
  private deadline: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private unusable = false;
  private readonly mono: () => number;

  constructor(
    private readonly keeper: FenceKeeper,
    private readonly o: WatchdogOptions,
  ) {
    this.mono = o.monotonic ?? (() => performance.now());
  }

  get isArmed(): boolean {
    return this.keeper.isArmed || this.handle !== null;
  }

  attach(): Promise<void> {
    return this.keeper.attach();
  }

  async arm(deadlineMono: number): Promise<void> {
    await this.keeper.arm(deadlineMono);
    if (this.o.mode === 'off' || this.unusable) return;
    const timeoutMs = await this.timeoutMs();
    const leftMs = deadlineMono - this.mono();
    const problem =
      timeoutMs === null
        ? `cannot read the timeout of ${this.o.device} from ${this.sysfsDir()}/timeout`
        : timeoutMs > leftMs
          ? `${this.o.device} fires ${timeoutMs / 1000} s after the last keepalive, later than the ${(leftMs / 1000).toFixed(1)} s left of the lease (set a shorter timeout, e.g. modprobe softdog soft_margin=${Math.max(1, Math.floor(leftMs / 1000) - 1)})`
          : null;
    if (problem !== null) return this.refuse(problem);
    try {
      this.handle ??= await open(this.o.device, 'w');
      await this.handle.write('1');
    } catch (err) {
      this.handle = null;
      return this.refuse(`cannot open ${this.o.device}: ${(err as Error).message}`);
    }
    this.deadline = deadlineMono;
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.keepalive(), this.o.keepaliveMs ?? 1000);
      this.timer.unref();
    }
  }

  async disarm(): Promise<void> {
    await this.keeper.disarm();
    await this.stop();
  }

  close(): void {
    this.keeper.close();
    // An agent that exits while holding a lease leaves the device running: it resets the machine unless a
    // restarted agent takes it over within the timeout.
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refuse(problem: string): Promise<void> {
    if (this.o.mode === 'required') throw new FenceKeeperError(`watchdog required, but ${problem}`);
    this.unusable = true;
    this.o.log(`watchdog not used: ${problem}`);
  }

  private async keepalive(): Promise<void> {
    const h = this.handle;
    if (h === null || this.deadline === null) return;
    const inLease = this.mono() < this.deadline;
    const fenced = inLease ? false : await this.keeper.status().then((s) => s === 'fired', () => false);
    if (inLease || fenced) await h.write('1').catch((err: Error) => this.o.log(`watchdog keepalive failed: ${err.message}`));
  }

  private async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.deadline = null;
    const h = this.handle;
    this.handle = null;
    if (h === null) return;
    // The magic close: 'V' then close stops the device instead of letting it fire.
    await h.write('V').catch(() => undefined);
    await h.close().catch(() => undefined);
  }

  private sysfsDir(): string {
    if (this.o.sysfsDir !== undefined) return this.o.sysfsDir;
    const name = basename(this.o.device);
    return join('/sys/class/watchdog', name === 'watchdog' ? 'watchdog0' : name);
  }

  private async timeoutMs(): Promise<number | null> {
    const text = await readFile(join(this.sysfsDir(), 'timeout'), 'utf8').catch(() => null);
    const s = text === null ? NaN : Number(text.trim());
    return Number.isFinite(s) && s > 0 ? s * 1000 : null;
  }
}
