import { describe, expect, it } from 'vitest';
import { formatPollingTable, replayFleet, runPollingBench } from '../../scripts/bench/polling.js';
import { DAY_MS, SHAPE_IDS, SHAPES, generateJobs, observe } from '../../scripts/bench/sim/jobs.js';
import { ourPolicy } from '../../scripts/bench/sim/policies.js';
import { deriveSeed } from '../../scripts/bench/sim/prng.js';

// Structure only: the performance figures belong to the benchmark, not to pass/fail here.
describe('polling benchmark', () => {
  const opts = { jobs: 60, seed: 1, costCalls: 2_000 };
  const result = runPollingBench(opts);

  it('reports every policy over every job of every shape', async () => {
    const r = await result;
    expect(r.shapes.map((s) => s.shape)).toEqual(SHAPE_IDS);
    for (const s of r.shapes) {
      expect(s.policies.map((p) => p.id)).toEqual([
        'ours',
        'sdk-1s',
        'tuzi-client',
        'tuzi-web',
        'discord-10s',
        'fixed-10s',
        'fixed-5s',
        'ours-no-history',
      ]);
      expect(s.jobs).toBe(opts.jobs);
      for (const p of s.policies) {
        expect(p.jobs).toBe(opts.jobs);
        expect(p.detected + p.lost).toBe(opts.jobs);
        const kinds = Object.values(p.byKind);
        expect(kinds.reduce((n, k) => n + (k?.jobs ?? 0), 0)).toBe(opts.jobs);
        expect(kinds.reduce((n, k) => n + (k?.lost ?? 0), 0)).toBe(p.lost);
        expect(p.requestsPerJob.mean).toBeGreaterThan(0);
        expect(p.requestsPerJob.p95).toBeLessThanOrEqual(p.requestsPerJob.max);
        if (p.lagMs) {
          expect(p.lagMs.p50).toBeGreaterThanOrEqual(0);
          expect(p.lagMs.p50).toBeLessThanOrEqual(p.lagMs.p95);
          expect(p.lagMs.p95).toBeLessThanOrEqual(p.lagMs.max);
        }
      }
      expect(s.targets.length).toBeGreaterThan(0);
      expect(s.allTargetsMet).toBe(s.targets.every((t) => t.pass));
    }
  });

  it('counts the jobs a giving-up peer loses; the ones that never give up lose none', async () => {
    const r = await result;
    for (const s of r.shapes) {
      const byId = new Map(s.policies.map((p) => [p.id, p]));
      for (const id of ['ours', 'sdk-1s', 'fixed-10s', 'fixed-5s', 'tuzi-web', 'ours-no-history'])
        expect(byId.get(id)?.lost).toBe(0);
    }
    // Jobs longer than a peer's cap are lost (the bench seeds each shape by its index in SHAPE_IDS).
    const queue = r.shapes.find((s) => s.shape === 'long-queue')!;
    const jobs = generateJobs('long-queue', opts.jobs, deriveSeed(opts.seed, SHAPE_IDS.indexOf('long-queue')));
    const lost = (id: string) => queue.policies.find((p) => p.id === id)?.lost;
    expect(lost('tuzi-client')).toBeGreaterThanOrEqual(jobs.filter((j) => j.endMs > 8 * 60_000).length);
    expect(lost('tuzi-client')).toBeGreaterThan(opts.jobs / 2);
    expect(lost('discord-10s')).toBe(jobs.filter((j) => j.endMs > 60 * 10_000).length);
  });

  it('is deterministic for a seed, JSON-serialisable and printable', async () => {
    const a = await result;
    const b = await runPollingBench(opts);
    const { scheduleCost: costA, ...restA } = a;
    const { scheduleCost: costB, ...restB } = b;
    expect(restB).toEqual(restA);
    expect(costA.calls).toBe(costB.calls);
    expect(costA.withPriorNsPerCall).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    expect(a.thirtySecondJob.polls).toBeGreaterThan(0);
    const table = formatPollingTable(a);
    for (const s of a.shapes) {
      expect(table).toContain(s.label);
      for (const p of s.policies) expect(table).toContain(p.label);
    }
  });

  it('lets ours learn only from ends it saw before each decision', () => {
    // The same day cut short: jobs submitted later cannot have changed what
    // happened to the jobs that ended before any of the later ones did.
    const jobs = generateJobs('none', 120, 5);
    const cut = jobs.filter((j) => j.submitAt < DAY_MS / 2);
    const later = jobs.filter((j) => j.submitAt >= DAY_MS / 2);
    const firstLaterEnd = Math.min(...later.map((j) => j.submitAt + j.endMs));
    const all = replayFleet(jobs, ourPolicy(), 5);
    const part = replayFleet(cut, ourPolicy(), 5);
    let compared = 0;
    cut.forEach((job, i) => {
      const o = all[jobs.indexOf(job)]!;
      if (o.lagMs === null || job.submitAt + job.endMs + o.lagMs >= firstLaterEnd) return;
      expect(part[i]).toEqual(o);
      compared++;
    });
    expect(compared).toBeGreaterThan(40);
    // And learning does change decisions: without history the same jobs are polled differently.
    expect(replayFleet(jobs, ourPolicy({ learn: false }), 5)).not.toEqual(all);
  });
});

describe('simulated shapes', () => {
  const n = 200;

  it('report progress as each relay does', () => {
    const values = (shape: (typeof SHAPE_IDS)[number]) =>
      new Set(generateJobs(shape, n, 3).flatMap((j) => [...j.progressBySecond]));
    expect([...values('none')]).toEqual([0]);
    expect([...values('coarse')].sort((a, b) => a - b)).toEqual([0, 25, 50, 75]);
    expect(values('smooth').size).toBeGreaterThan(90);
    for (const j of generateJobs('stall-99', n, 3)) {
      // 99 % reached, then held for 10–40 % of the run before completing.
      const at99 = j.progressBySecond.indexOf(99) * 1000;
      expect(at99).toBeGreaterThan(0);
      expect((j.endMs - at99) / j.runMs).toBeGreaterThan(0.08);
      expect((j.endMs - at99) / j.runMs).toBeLessThan(0.42);
      expect(observe(j, j.endMs)).toEqual({ status: 'completed', progress: 100 });
    }
  });

  it('arrive over a day, with the queues, models and slowdown each shape describes', () => {
    for (const shape of SHAPE_IDS) {
      const jobs = generateJobs(shape, n, 4);
      expect(jobs).toHaveLength(n);
      for (let i = 1; i < n; i++) expect(jobs[i]!.submitAt).toBeGreaterThanOrEqual(jobs[i - 1]!.submitAt);
      expect(jobs.at(-1)!.submitAt).toBeGreaterThan(DAY_MS * 0.7);
      expect(new Set(jobs.map((j) => j.group.model)).size).toBe(shape === 'models' ? 3 : 1);
      expect(new Set(jobs.map((j) => `${j.group.model}|${j.group.seconds}|${j.group.size}`)).size).toBe(
        SHAPES[shape].classes.length,
      );
    }
    for (const j of generateJobs('long-queue', n, 4)) {
      expect(j.queueMs).toBeGreaterThanOrEqual(5 * 60_000);
      expect(j.queueMs).toBeLessThanOrEqual(30 * 60_000);
      expect(observe(j, j.queueMs - 1).status).toBe('queued');
    }
    const drift = generateJobs('drift', n, 4);
    const meanRun = (js: typeof drift) => js.reduce((a, j) => a + j.runMs, 0) / js.length;
    expect(meanRun(drift.slice(-50)) / meanRun(drift.slice(0, 50))).toBeGreaterThan(1.8);
    const steady = generateJobs('smooth', n, 4);
    expect(meanRun(steady.slice(-50)) / meanRun(steady.slice(0, 50))).toBeLessThan(1.3);
  });
});
