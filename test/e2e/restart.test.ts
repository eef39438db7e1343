import type { ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnBot, startWorld, type World } from '../../emulators/world.js';
import { creates, embedText, MINUTE, sora, videoMessages, world } from './helpers.js';

let w: World;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await w?.close();
});

/** Sets a job's status behind the bot's back, as a crash at that point would have left it. */
function forceStatus(world: World, id: number, status: string): void {
  const db = new Database(world.config.databasePath);
  db.prepare('UPDATE jobs SET status = ? WHERE id = ?').run(status, id);
  db.close();
}

/** Job 1 ended as interrupted, its reply says so, and it is never sent upstream again. */
async function expectInterruptedNotResent(): Promise<void> {
  const job = w.app!.jobs.get(1)!;
  expect(job.status).toBe('submit_failed');
  expect(job.errorCode).toBe('interrupted');
  const reply = w.discord.messages(w.channelId).find((m) => m.id === job.messageId)!;
  expect(embedText(reply)).toContain('not sent again');
  await w.advance(5 * MINUTE, 10_000);
  expect(creates(w)).toHaveLength(1);
  expect(videoMessages(w)).toHaveLength(0);
}

describe('restarts: exactly one POST and one visible outcome', () => {
  it('a job caught in submitting is explained, never resent', async () => {
    w = await world();
    await sora(w, w.users.alice, { prompt: 'stuck' });
    await w.stopBot();
    // As a crash between writing the row and hearing back from upstream leaves it.
    forceStatus(w, 1, 'submitting');
    await w.startBot();
    await w.settle();
    await expectInterruptedNotResent();
  });

  it('a stop during a create that never answers ends in bounded time; the job is explained, never resent', async () => {
    w = await world();
    w.tuzi.injectFault({ kind: 'hang', route: 'create' });
    const h = w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.users.alice,
      name: 'sora',
      options: { prompt: 'hung' },
    });
    expect((await h.acknowledged()).type).toBe(4);
    await w.discord.waitFor(() => (creates(w).length === 1 ? true : undefined), { what: 'the create request' });
    await w.stopBot(1_000);
    expect(w.app).toBeUndefined();
    // The stop itself recorded and explained the job (the create may have reached upstream).
    await w.startBot();
    await w.settle();
    await expectInterruptedNotResent();
  });

  it('registers commands once: a restart with unchanged definitions does not PUT them again', async () => {
    w = await world();
    const puts = () => w.discord.requests.filter((r) => r.method === 'PUT' && r.route.includes('command')).length;
    expect(puts()).toBe(1);
    await w.stopBot();
    await w.startBot();
    expect(puts()).toBe(1);
    expect(
      w.discord
        .commands()
        .map((c) => c.name)
        .sort(),
    ).toEqual(['sora', 'sora-config', 'sora-jobs']);
  });

  it.each(['queued', 'in_progress'])('a restart while %s resumes the job', async (state) => {
    w = await world({ tuzi: { jobDurationMs: 4 * MINUTE } });
    await sora(w, w.users.alice, { prompt: 'resume me' });
    await w.advanceUntil(() => w.app!.jobs.get(1)!.status === state, 4 * MINUTE);
    await w.stopBot();
    await w.advance(MINUTE);
    await w.startBot();
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    await w.advance(MINUTE);
    expect(creates(w)).toHaveLength(1);
    expect(videoMessages(w)).toHaveLength(1);
  });

  it('a finished job not yet delivered is delivered once after the restart', async () => {
    w = await world();
    w.discord.injectFault({ route: 'channel_create', status: 502, times: Infinity });
    await sora(w, w.users.alice, { prompt: 'finish later' });
    await w.advanceUntil(
      () => w.app!.jobs.get(1)!.deliveryAttempts >= 1 && w.app!.jobs.get(1)!.status === 'completed',
      10 * MINUTE,
    );
    await w.stopBot();
    w.discord.clearFaults();
    await w.startBot();
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    await w.advance(2 * MINUTE);
    expect(videoMessages(w)).toHaveLength(1);
    expect(w.app!.jobs.get(1)!.status).toBe('delivered');
  });

  it('a crash after the upload but before it was recorded does not post the video twice', async () => {
    w = await world();
    // The post lands, but the answer is lost; then the process "dies" mid-delivery.
    w.discord.injectFault({ route: 'channel_create', status: 502, when: 'after', times: Infinity });
    await sora(w, w.users.alice, { prompt: 'lost answer' });
    await w.advanceUntil(() => videoMessages(w).length >= 1, 10 * MINUTE);
    await w.stopBot();
    forceStatus(w, 1, 'delivering');
    w.discord.clearFaults();
    await w.advance(10 * MINUTE); // well past Discord's nonce window
    await w.startBot();
    await w.advanceUntil(() => w.app!.jobs.get(1)!.status === 'delivered', 10 * MINUTE);
    await w.advance(MINUTE);
    expect(videoMessages(w)).toHaveLength(1);
    expect(w.app!.jobs.get(1)!.deliveredMessageId).toBe(videoMessages(w)[0]!.id);
  });

  it('SIGKILL of the real bot process mid-job, then a restart: one POST, one video', async () => {
    w = await startWorld({
      noBot: true,
      logLevel: 'info',
      env: { POLL_MIN_SECONDS: '1', POLL_MAX_SECONDS: '2', PROGRESS_EDIT_SECONDS: '1' },
      tuzi: { jobDurationMs: 6_000 },
    });
    const startChild = async () => {
      const child = await spawnBot(w);
      children.push(child);
      return child;
    };
    const first = await startChild();
    const h = w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.users.alice,
      name: 'sora',
      options: { prompt: 'kill me' },
    });
    await h.acknowledged(10_000);
    await w.discord.waitFor(() => creates(w).length === 1 && w.tuzi.requests.some((r) => r.route === 'retrieve'), {
      timeoutMs: 15_000,
    });
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    await startChild();
    await w.discord.waitFor(() => videoMessages(w).length === 1, {
      timeoutMs: 30_000,
      what: 'the video after the restart',
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(creates(w)).toHaveLength(1);
    expect(videoMessages(w)).toHaveLength(1);
  });
});

describe('the lifecycle at the edges of a process', () => {
  it('a /sora dispatched the moment the gateway is ready is delivered, never marked interrupted', async () => {
    w = await world();
    await w.stopBot();
    // The restarted bot registers its commands again (as after an upgrade that changed them), which takes a
    // while (a 429 on the PUT), and so does the new job's first reply edit: the job is still in `submitting`
    // when the start-up sequence moves past the registration.
    const db = new Database(w.config.databasePath);
    db.prepare("DELETE FROM bot_state WHERE key = 'commands_hash'").run();
    db.close();
    w.discord.injectFault({ route: 'commands_put', status: 429, retryAfterMs: 600 });
    w.discord.injectFault({ route: 'webhook_edit', status: 429, retryAfterMs: 1_500 });
    let handle: ReturnType<World['discord']['invokeSlashCommand']> | undefined;
    await w.startBot((app) =>
      app.client.once('clientReady', () => {
        handle = w.discord.invokeSlashCommand({
          guildId: w.guildId,
          channelId: w.channelId,
          userId: w.users.alice,
          name: 'sora',
          options: { prompt: 'the first command' },
        });
      }),
    );
    expect((await handle!.acknowledged()).type).toBe(4);
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    const job = w.app!.jobs.get(1)!;
    expect(job.errorCode).toBeNull();
    expect(job.status).toBe('delivered');
    expect(creates(w)).toHaveLength(1);
  });

  it('a post Discord stored but answered with a 5xx, twice, is found again, not posted again', async () => {
    // Discord keeps a nonce only minutes; the retries here run well past it.
    w = await world({ discord: { nonceWindowMs: 2_000 } });
    // Every attempt lands and loses its answer (discord.js's own retries included).
    w.discord.injectFault({ route: 'channel_create', status: 502, when: 'after', times: 8 });
    await sora(w, w.users.alice, { prompt: 'stored but unanswered' });
    await w.advanceUntil(() => w.app!.jobs.get(1)!.status === 'delivered', 30 * MINUTE);
    await w.advance(10 * MINUTE);
    expect(videoMessages(w)).toHaveLength(1);
    expect(w.app!.jobs.get(1)!.deliveredMessageId).toBe(videoMessages(w)[0]!.id);
  });
});
