import type { Clock } from '../../src/clock.js';

export const DISCORD_EPOCH = 1_420_070_400_000;

/**
 * Discord snowflakes: 42 bits of milliseconds since 2015, 5 bits worker,
 * 5 bits process, 12 bits increment. Ids made from the emulator's clock
 * sort by creation time like real ones, so `before`/`after` paging and
 * "messages since T" queries built from a timestamp behave as on Discord.
 */
export class SnowflakeGenerator {
  private lastMs = 0;
  private increment = 0;

  constructor(
    private readonly clock: Clock,
    private readonly worker = 1,
    private readonly processId = 0,
  ) {}

  next(): string {
    let ms = Math.max(Math.floor(this.clock.now()), DISCORD_EPOCH);
    // A ManualClock may stand still (or be set back); ids must stay unique and
    // ordered anyway, so borrow the next millisecond instead of repeating one.
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      if (this.increment >= 4095) {
        ms += 1;
        this.increment = 0;
      } else {
        this.increment += 1;
      }
    } else {
      this.increment = 0;
    }
    this.lastMs = ms;
    const id =
      (BigInt(ms - DISCORD_EPOCH) << 22n) |
      (BigInt(this.worker & 31) << 17n) |
      (BigInt(this.processId & 31) << 12n) |
      BigInt(this.increment);
    return id.toString();
  }
}

/** Milliseconds since the epoch encoded in a snowflake. */
export function snowflakeTime(id: string): number {
  return Number(BigInt(id) >> 22n) + DISCORD_EPOCH;
}

export function isSnowflake(value: string): boolean {
  return /^\d{1,20}$/.test(value) && BigInt(value) < 1n << 64n;
}

export function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
