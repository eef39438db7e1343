/**
 * The real bot (createApp, as src/index.ts builds it) in its own process, on
 * a simulated clock that the parent moves over IPC. Started by
 * `spawnSimulatedBot()` in world.ts, so a benchmark can run hours of jobs in
 * seconds and still measure the bot's own memory, CPU, event loop and
 * database writes apart from the emulators in the parent.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createApp } from '../src/app.js';
import { ManualClock } from '../src/clock.js';
import { parseConfig } from '../src/config.js';
import { settleBot } from './settle.js';
import type { SimBotReply, SimBotRequest, SimBotStats } from './world.js';

const clock = new ManualClock(Number(process.env.SIM_CLOCK_START));
const app = createApp(parseConfig(process.env), { clock, timers: clock });
const loop = monitorEventLoopDelay({ resolution: 10 });
let cpu = process.cpuUsage();
let maxInFlight = 0;
const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, app.upstreamInFlight())), 1);

function stats(): SimBotStats {
  const used = process.cpuUsage(cpu);
  const changes = app.db.prepare('SELECT total_changes() AS c').get() as { c: number };
  return {
    cpuMs: (used.user + used.system) / 1000,
    maxEventLoopStallMs: loop.max / 1e6,
    maxUpstreamInFlight: maxInFlight,
    rowWrites: changes.c,
  };
}

async function handle(request: SimBotRequest): Promise<SimBotReply['result']> {
  switch (request.op) {
    case 'advance':
      await clock.advance(request.ms);
      await settleBot(app, clock, 10 * 60_000);
      return undefined;
    case 'stats':
      return stats();
    case 'reset-stats':
      loop.reset();
      cpu = process.cpuUsage();
      maxInFlight = 0;
      return undefined;
    case 'stop':
      clearInterval(sampler);
      await app.stop(5_000);
      return undefined;
  }
}

process.on('message', (request: SimBotRequest) => {
  handle(request).then(
    (result) => process.send!({ id: request.id, result } satisfies SimBotReply),
    (err: unknown) => process.send!({ id: request.id, error: String(err) } satisfies SimBotReply),
  );
});

loop.enable();
await app.start();
process.send!({ id: 0, result: undefined } satisfies SimBotReply);
