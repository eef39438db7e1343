import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { APIMessage } from 'discord.js';
import { ManualClock } from '../../src/clock.js';
import { DEFAULT_VIDEO_FILE } from '../../emulators/tuzi/server.js';
import { startWorld, type World, type WorldOptions } from '../../emulators/world.js';

export const FIXTURE_SHA = createHash('sha256').update(fs.readFileSync(DEFAULT_VIDEO_FILE)).digest('hex');
export const MINUTE = 60_000;

/** A world on a manual clock with timing made for fast tests. */
export async function world(options: WorldOptions = {}): Promise<World> {
  return startWorld({
    clock: new ManualClock(Date.now()),
    ...options,
    env: { POLL_MIN_SECONDS: '3', POLL_MAX_SECONDS: '30', PROGRESS_EDIT_SECONDS: '5', ...options.env },
    tuzi: { jobDurationMs: 2 * MINUTE, ...options.tuzi },
  });
}

/** Messages in the channel carrying a video file. */
export function videoMessages(w: World, channelId = w.channelId): APIMessage[] {
  return w.discord.messages(channelId).filter((m) => m.attachments.some((a) => a.filename.endsWith('.mp4')));
}

type CommandFields = Omit<
  Parameters<World['discord']['invokeSlashCommand']>[0],
  'guildId' | 'channelId' | 'userId' | 'name'
>;

/** Runs a slash command in the world's channel and waits until the bot acknowledged and finished handling it. */
export async function command(w: World, userId: string, name: string, fields: CommandFields = {}) {
  const handle = w.discord.invokeSlashCommand({ guildId: w.guildId, channelId: w.channelId, userId, name, ...fields });
  await handle.acknowledged();
  await w.settle();
  return handle;
}

/** Runs /sora and waits until the bot acknowledged and finished handling it. */
export function sora(
  w: World,
  userId: string,
  options: Record<string, string | number | boolean>,
  extra: Omit<CommandFields, 'options'> = {},
) {
  return command(w, userId, 'sora', { options, ...extra });
}

/** Upstream requests about jobs: all but the start-up look at the provider's model list (GET /v1/models). */
export function jobRequests(w: World) {
  return w.tuzi.requests.filter((r) => r.route !== 'models');
}

export function creates(w: World) {
  return w.tuzi.requests.filter((r) => r.route === 'create');
}

export function embedText(m: { embeds: unknown[]; content: string }): string {
  return m.content + JSON.stringify(m.embeds);
}
