/** The benchmarks' one definition of a percentile: nearest rank over the sorted values (NaN when empty). */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** The lower median (percentile 50). */
export const median = (values: readonly number[]): number => percentile(values, 50);
