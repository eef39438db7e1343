import { describe, expect, it } from 'vitest';
import { formatPollingTable, runPollingBench } from '../../scripts/bench/polling.js';
import { CURVE_KINDS, generateJobs } from '../../scripts/bench/sim/jobs.js';

// Structure only: the performance figures belong to the benchmark, not to pass/fail here.
describe('polling benchmark', () => {
  const opts = { jobs: 50, seed: 1 };

  it('reports every policy over every job', async () => {
    const result = await runPollingBench(opts);
    expect(result.policies.map((p) => p.id)).toEqual(['ours', 'sdk-1s', 'tuzi-client', 'discord-10s', 'fixed-5s']);
    expect(Object.values(result.mix).reduce((a, b) => a + b, 0)).toBe(opts.jobs);
    for (const p of result.policies) {
      expect(p.jobs).toBe(opts.jobs);
      expect(p.detected + p.lost).toBe(opts.jobs);
      for (const kind of CURVE_KINDS) expect(p.byCurve[kind].jobs).toBe(result.mix[kind]);
      expect(CURVE_KINDS.reduce((n, k) => n + p.byCurve[k].lost, 0)).toBe(p.lost);
      expect(p.requestsPerJob.mean).toBeGreaterThan(0);
      expect(p.requestsPerJob.p95).toBeLessThanOrEqual(p.requestsPerJob.max);
      expect(p.lagMs).not.toBeNull();
      const lag = p.lagMs!;
      expect(lag.p50).toBeGreaterThanOrEqual(0);
      expect(lag.p50).toBeLessThanOrEqual(lag.p95);
      expect(lag.p95).toBeLessThanOrEqual(lag.max);
      expect(p.staleGapPoints.mean).toBeGreaterThanOrEqual(0);
      expect(p.longestUnreflectedMs.p95).toBeLessThanOrEqual(p.longestUnreflectedMs.max);
    }
  });

  it('counts the jobs a giving-up peer loses, and ours loses none', async () => {
    const result = await runPollingBench(opts);
    const jobs = generateJobs(opts.jobs, opts.seed);
    const byId = new Map(result.policies.map((p) => [p.id, p]));
    const over8Minutes = jobs.filter((j) => j.endMs > 8 * 60_000).length;
    const over60Polls = jobs.filter((j) => j.endMs > 60 * 10_000).length;
    expect(over8Minutes).toBeGreaterThan(0);
    expect(byId.get('tuzi-client')?.lost).toBeGreaterThanOrEqual(over8Minutes);
    expect(byId.get('tuzi-client')?.lost).toBeGreaterThan(0);
    expect(byId.get('discord-10s')?.lost).toBe(over60Polls);
    expect(byId.get('ours')?.lost).toBe(0);
    expect(byId.get('sdk-1s')?.lost).toBe(0);
    expect(byId.get('fixed-5s')?.lost).toBe(0);
  });

  it('is deterministic for a seed, JSON-serialisable and printable', async () => {
    const a = await runPollingBench(opts);
    const b = await runPollingBench(opts);
    expect(b).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    expect(a.targets.length).toBeGreaterThan(0);
    expect(a.thirtySecondJob.polls).toBeGreaterThan(0);
    const table = formatPollingTable(a);
    for (const p of a.policies) expect(table).toContain(p.label);
  });
});
