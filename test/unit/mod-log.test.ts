import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/logger.js';
import { ModLog, type LogSendResult, type ModLogEvent, type ModLogOptions } from '../../src/services/mod-log.js';

const G = '1200000000000000001';
const LOG = '1200000000000000050';
const silent = createLogger({ level: 'silent', secrets: [] });

function setup(opts: { channel?: string | null; results?: LogSendResult[]; options?: Partial<ModLogOptions> } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const sent: { channelId: string; content: string; at: number }[] = [];
  const results = [...(opts.results ?? [])];
  const log = new ModLog(
    () => (opts.channel === undefined ? LOG : opts.channel),
    {
      send: (channelId, content) => {
        sent.push({ channelId, content, at: clock.now() });
        return Promise.resolve(results.shift() ?? 'ok');
      },
    },
    clock,
    clock,
    silent,
    () => 'en-US',
    { intervalMs: 10_000, batchDelayMs: 2_000, maxQueued: 200, maxAttempts: 3, ...opts.options },
  );
  return { clock, sent, log };
}

let seq = 0;
const started = (over: Partial<Extract<ModLogEvent, { kind: 'job_started' }>> = {}): ModLogEvent => ({
  kind: 'job_started',
  at: Date.UTC(2026, 0, 1, 12),
  userId: '1200000000000000003',
  jobId: ++seq,
  model: 'sora-2',
  seconds: 10,
  cost: 10,
  private: false,
  prompt: 'a corgi surfing',
  channelId: '1200000000000000002',
  messageId: '1300000000000000009',
  ...over,
});

describe('ModLog', () => {
  it('records nothing, and arms no timer, while the server has no log channel', async () => {
    const { clock, sent, log } = setup({ channel: null });
    log.record(G, started());
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(60_000);
    expect(sent).toEqual([]);
  });

  it('posts a burst as one message after a short delay, then at most one message per interval', async () => {
    const { clock, sent, log } = setup();
    const t0 = clock.now();
    for (let i = 0; i < 5; i++) log.record(G, started());
    await clock.advance(1_999);
    expect(sent).toHaveLength(0);
    await clock.advance(1);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.content.split('\n')).toHaveLength(5);
    expect(sent[0]!.channelId).toBe(LOG);

    log.record(G, started());
    log.record(G, started());
    await clock.advance(5_000);
    expect(sent).toHaveLength(1); // the interval since the last post has not passed
    await clock.advance(5_000);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at - sent[0]!.at).toBe(10_000);
    expect(sent[1]!.content.split('\n')).toHaveLength(2);
    expect(sent[0]!.at - t0).toBe(2_000);
  });

  it('keeps every message under 2,000 characters and carries the rest to the next one', async () => {
    const { clock, sent, log } = setup();
    for (let i = 0; i < 60; i++) log.record(G, started({ prompt: `${'long prompt text '.repeat(10)}${i}` }));
    await clock.advance(10 * 60_000);
    expect(sent.length).toBeGreaterThan(1);
    for (const m of sent) expect(m.content.length).toBeLessThanOrEqual(2_000);
    expect(sent.flatMap((m) => m.content.split('\n'))).toHaveLength(60);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.at - sent[i - 1]!.at).toBeGreaterThanOrEqual(10_000);
  });

  it('summarises what does not fit in the queue instead of growing without end', async () => {
    const { clock, sent, log } = setup({ options: { maxQueued: 10 } });
    for (let i = 0; i < 25; i++) log.record(G, started());
    await clock.advance(60_000);
    const lines = sent.flatMap((m) => m.content.split('\n'));
    expect(lines.filter((l) => l.startsWith('▶️'))).toHaveLength(10);
    expect(lines.at(-1)).toBe('…and 15 more event(s) not shown: the log was too busy.');
  });

  it('never shows a private job’s prompt; a public prompt is shortened and cannot format or break lines', async () => {
    const { clock, sent, log } = setup();
    log.record(G, started({ private: true, prompt: 'my secret idea' }));
    log.record(G, started({ prompt: `**bold**\nsecond line ${'x'.repeat(200)}` }));
    await clock.advance(2_000);
    const [privateLine, publicLine] = sent[0]!.content.split('\n');
    expect(sent[0]!.content).not.toContain('secret');
    expect(privateLine).toContain('(private: prompt not logged)');
    expect(publicLine).toContain('\\*\\*bold\\*\\* second line');
    expect(publicLine!.length).toBeLessThan(300);
    expect(publicLine).toContain('https://discord.com/channels/');
  });

  it('tries a batch again after a transient failure, gives up after the last attempt, and drops at once when the channel refuses', async () => {
    const retried = setup({ results: ['retry', 'ok'] });
    retried.log.record(G, started());
    await retried.clock.advance(30_000);
    expect(retried.sent).toHaveLength(2);
    expect(retried.sent[1]!.content).toBe(retried.sent[0]!.content);

    const given = setup({ results: ['retry', 'retry', 'retry', 'ok'] });
    given.log.record(G, started());
    await given.clock.advance(120_000);
    expect(given.sent).toHaveLength(3);

    const dropped = setup({ results: ['drop'] });
    dropped.log.record(G, started());
    await dropped.clock.advance(120_000);
    expect(dropped.sent).toHaveLength(1);
    expect(dropped.clock.pendingTimers).toBe(0);
  });

  it('close() posts what is waiting at once and then records nothing more', async () => {
    const { clock, sent, log } = setup();
    log.record(G, started());
    await log.close();
    expect(sent).toHaveLength(1);
    log.record(G, started());
    await clock.advance(60_000);
    expect(sent).toHaveLength(1);
  });

  it('sends a line to the channel it is given (the old one, when a change turned the log off)', async () => {
    const { clock, sent, log } = setup({ channel: null });
    log.record(
      G,
      { kind: 'settings', at: clock.now(), userId: 'mod', changes: { logChannel: null } },
      {
        channelId: '1200000000000000077',
      },
    );
    await clock.advance(2_000);
    expect(sent.map((m) => m.channelId)).toEqual(['1200000000000000077']);
    expect(sent[0]!.content).toContain('changed settings: logChannel=—');
  });
});
