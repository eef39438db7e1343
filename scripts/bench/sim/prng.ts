/**
 * A tiny seeded PRNG for the simulated benchmarks: mulberry32 (32-bit state,
 * fast, well spread). Deterministic for a seed; not for anything secret.
 */
export type Random = () => number;

export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seed for an independent stream derived from a base seed, so that e.g. the
 * jobs stay the same whatever a policy does with its own jitter stream.
 */
export function deriveSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export const uniform = (rng: Random, lo: number, hi: number): number => lo + (hi - lo) * rng();

/** An integer in [lo, hi], both inclusive. */
export const intBetween = (rng: Random, lo: number, hi: number): number =>
  Math.min(hi, Math.floor(uniform(rng, lo, hi + 1)));

/** Fisher–Yates, in place. */
export function shuffle<T>(rng: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}
