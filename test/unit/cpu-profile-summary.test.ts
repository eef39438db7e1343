import { describe, expect, it } from 'vitest';
import { summariseProfiles, type CpuProfile } from '../../scripts/bench/cpu-profile.js';

const ROOT = '/srv/bot';
const file = (p: string) => `file://${ROOT}/${p}`;

/**
 * A hand-made profile: the root with (program), (garbage collector) and
 * (idle), the gateway parsing a message (a native JSON.parse under
 * @discordjs/ws), and our handler inserting a row (a native statement call
 * under src/db) and connecting (node:net under undici).
 */
function profile(): CpuProfile {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5] },
      { id: 2, callFrame: frame('(program)') },
      { id: 3, callFrame: frame('(garbage collector)') },
      { id: 4, callFrame: frame('(idle)') },
      { id: 5, callFrame: frame('onMessage', file('node_modules/@discordjs/ws/dist/index.js'), 10), children: [6, 7] },
      { id: 6, callFrame: frame('parse') },
      { id: 7, callFrame: frame('handle', file('dist/src/interactions.js'), 20), children: [8, 10] },
      { id: 8, callFrame: frame('insertWithinQuota', file('dist/src/db/jobs-repository.js'), 30), children: [9] },
      { id: 9, callFrame: frame('run') },
      {
        id: 10,
        callFrame: frame('dispatch', file('node_modules/undici/lib/dispatcher/client.js'), 40),
        children: [11],
      },
      { id: 11, callFrame: frame('internalConnect', 'node:net', 50) },
    ],
    startTime: 1_000,
    endTime: 1_000 + 13 * 100,
    // One sample every 100 µs; each stands for the 100 µs until the next.
    samples: [6, 6, 6, 9, 9, 11, 2, 3, 4, 4, 7, 6, 6],
    timeDeltas: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100],
  };
}

const share = (s: ReturnType<typeof summariseProfiles>, name: string) =>
  s.categories.find((c) => c.name.startsWith(name))?.ms;

describe('CPU profile summary', () => {
  it('attributes each sample to the nearest frame of a known part, leaving idle time out', () => {
    const s = summariseProfiles([{ profile: profile() }], { root: ROOT });
    // 13 samples, 2 idle, the last one stands for no time: 10 × 0.1 ms busy.
    expect(s.busyMs).toBeCloseTo(1.0);
    expect(s.samples).toBe(11);
    expect(share(s, 'discord.js gateway')).toBeCloseTo(0.4); // JSON.parse under @discordjs/ws (the last stands for 0)
    expect(share(s, 'SQLite')).toBeCloseTo(0.2); // the native run under src/db
    expect(share(s, 'opening connections')).toBeCloseTo(0.1); // net connect beats the undici frame above it
    expect(share(s, 'our other code')).toBeCloseTo(0.1);
    expect(share(s, 'garbage collector')).toBeCloseTo(0.1);
    expect(share(s, 'V8 / native')).toBeCloseTo(0.1);
    expect(s.categories.reduce((a, c) => a + c.share, 0)).toBeCloseTo(1);
    expect(s.categories.map((c) => c.ms)).toEqual([...s.categories.map((c) => c.ms)].sort((a, b) => b - a));
    expect(s.top[0]).toMatchObject({
      name: 'parse',
      where: 'native',
      category: 'discord.js gateway, actions, structures',
    });
    expect(s.top.find((f) => f.name === 'handle')?.where).toBe('dist/src/interactions.js:21');
  });

  it('reports the time a function was on the stack, its callees included', () => {
    const s = summariseProfiles([{ profile: profile() }], {
      inclusive: [
        { label: 'router', fn: 'handle', url: /\/src\/interactions\.js$/ },
        { label: 'insert', fn: 'insertWithinQuota', url: /\/src\/db\// },
        { label: 'not ours', fn: 'handle', url: /node_modules/ },
      ],
    });
    // handle: itself once, the two SQLite samples and the connect under it.
    expect(s.inclusive.map((f) => [f.name, Number(f.ms.toFixed(3))])).toEqual([
      ['router', 0.4],
      ['insert', 0.2],
      ['not ours', 0],
    ]);
  });

  it('caps what one sample stands for, so time the process was descheduled is not counted', () => {
    const p = profile();
    p.timeDeltas[1] = 5_000; // the second sample came 5 ms late: the first would stand for 5 ms
    p.endTime += 4_900;
    const s = summariseProfiles([{ profile: p }], { maxSampleUs: 200 });
    expect(s.busyMs).toBeCloseTo(1.1);
    expect(summariseProfiles([{ profile: p }]).busyMs).toBeCloseTo(5.9);
  });

  it('counts only the samples inside the window, and adds windows up', () => {
    const p = profile();
    // Samples at 1,100 … 1,300 µs: the three JSON.parse samples only.
    const one = summariseProfiles([{ profile: p, fromUs: 1_050, toUs: 1_350 }]);
    expect(one.windowMs).toBeCloseTo(0.3);
    expect(one.categories.map((c) => c.name)).toEqual(['discord.js gateway, actions, structures']);
    expect(one.busyMs).toBeCloseTo(0.3);
    const two = summariseProfiles([
      { profile: p, fromUs: 1_050, toUs: 1_350 },
      { profile: p, fromUs: 1_350, toUs: 1_550 },
    ]);
    expect(two.windowMs).toBeCloseTo(0.5);
    expect(share(two, 'discord.js gateway')).toBeCloseTo(0.3);
    expect(share(two, 'SQLite')).toBeCloseTo(0.2);
  });
});
