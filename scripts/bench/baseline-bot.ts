/**
 * The fastest a discord.js bot can acknowledge on this machine: the bot's own
 * client options (discordClientOptions, which src/app.ts builds its client
 * with), and on INTERACTION_CREATE a deferral and nothing else. `npm run
 * bench` runs it next to the real bot, in its own process against the same
 * emulator, so the ratio between the two is what our code costs, not what the
 * machine or the emulator costs.
 *
 * Part 1c also runs it as three peers of ours, each a step from the baseline
 * towards ours:
 * - BASELINE_REPLY (a message's JSON): it answers with that message instead
 *   of deferring, as ours does in a steady stream (callback type 4, with
 *   `with_response`); the bench passes ours' own first reply, as Discord
 *   received it.
 * - BASELINE_WORK_BEFORE_US and BASELINE_WORK_AFTER_US: it also spends a
 *   fixed CPU time per command on its main thread, as a busy loop before its
 *   answer and another once Discord has answered it: what ours spends
 *   beyond the first peer, before its callback and after it, measured in the
 *   same run. A busy loop allocates nothing and makes no request, so what is
 *   left between this peer and ours is how ours spends its CPU (allocation
 *   and its collections, wake-ups, follow-up requests), not how much.
 * - BASELINE_STORE=job: before its answer it stores the command as ours
 *   does, with ours' own code: a job row inserted and committed
 *   (JobsRepository.insertWithinQuotaGrouped, the limits off as in the
 *   bench) in a database opened as ours opens it (openDatabase, its WAL
 *   checkpoints on their own thread). The row before the acknowledgement is
 *   what keeps ours from acknowledging a job that does not exist; this peer
 *   is the baseline plus that one step.
 */
import {
  Client,
  Events,
  InteractionResponseType,
  Routes,
  type APIInteractionResponseCallbackData,
  type ChatInputCommandInteraction,
} from 'discord.js';
// The bot's own client options (intents, allowedMentions, the interaction REST's transport and limits),
// imported rather than copied: "the same client" holds by construction.
import { discordClientOptions } from '../../src/services/discord-rest.js';
import { systemTimers } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { WalCheckpointer } from '../../src/db/checkpointer.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { INTERACTION_TOKEN_TTL_MS } from '../../src/jobs/context.js';
import { createLogger } from '../../src/logger.js';
import { newJob } from '../../emulators/job-rows.js';

const token = process.env.DISCORD_TOKEN;
if (!token) throw new Error('DISCORD_TOKEN is not set');

/** Microseconds of CPU per command, before the answer and after Discord's reply to it (0: none). */
function workUs(name: string): number {
  const v = Number(process.env[name] ?? 0);
  if (!Number.isFinite(v) || v < 0)
    throw new Error(`${name} must be a number of microseconds, not ${process.env[name]}`);
  return v;
}

function readReply(json: string): APIInteractionResponseCallbackData {
  try {
    const data: unknown = JSON.parse(json);
    if (typeof data === 'object' && data !== null && !Array.isArray(data)) return data;
  } catch {
    // reported below
  }
  throw new Error('BASELINE_REPLY must be a message as JSON (an object)');
}

const beforeUs = workUs('BASELINE_WORK_BEFORE_US');
const afterUs = workUs('BASELINE_WORK_AFTER_US');
const reply = process.env.BASELINE_REPLY ? readReply(process.env.BASELINE_REPLY) : undefined;

const client = new Client(discordClientOptions(process.env.DISCORD_API_URL));

/** BASELINE_STORE=job: the job row committed before the answer, by ours' own repository and database. */
function openStore(): JobsRepository | undefined {
  const store = process.env.BASELINE_STORE;
  if (store === undefined || store === '') return undefined;
  if (store !== 'job') throw new Error(`BASELINE_STORE must be "job", not ${store}`);
  const file = process.env.DATABASE_PATH;
  if (!file) throw new Error('BASELINE_STORE=job needs DATABASE_PATH');
  const db = openDatabase(file);
  WalCheckpointer.start(db, systemTimers, createLogger({ level: 'warn', secrets: [token!] }));
  return new JobsRepository(db);
}
const store = openStore();
/** Every limit off, as ours' are in the bench (DEFAULT_MAX_ACTIVE=0, the daily limits' defaults). */
const NO_LIMITS = { maxActive: 0, dailyLimit: 0, dayStart: 0, serverDailyLimit: 0, serverDailyCredits: 0 };

/** The row ours inserts for a /sora, in the columns that identify the command. */
async function stored(jobs: JobsRepository, interaction: ChatInputCommandInteraction): Promise<void> {
  const result = await jobs.insertWithinQuotaGrouped(
    newJob({
      interactionId: interaction.id,
      applicationId: interaction.applicationId,
      guildId: interaction.guildId!,
      channelId: interaction.channelId,
      userId: interaction.user.id,
      locale: interaction.locale,
      interactionToken: interaction.token,
      tokenExpiresAt: interaction.createdTimestamp + INTERACTION_TOKEN_TTL_MS,
      prompt: interaction.options.getString('prompt', true),
    }),
    NO_LIMITS,
    Date.now(),
  );
  if (!result.ok) throw new Error(`the job row was refused: ${result.reason}`);
}

/**
 * Keeps the main thread busy until the process has spent `us` more microseconds of CPU: CPU,
 * not wall time, so that time spent preempted meanwhile does not count (a peer that allocates
 * next to nothing has little else running). process.cpuUsage is one getrusage call.
 */
function spin(us: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= us) return;
  }
}

/** The answer: a deferral, or the given message the way ours posts its first reply (src/commands/sora.ts). */
function answer(interaction: ChatInputCommandInteraction): Promise<unknown> {
  if (!reply) return interaction.deferReply();
  return client.rest.post(Routes.interactionCallback(interaction.id, interaction.token), {
    body: { type: InteractionResponseType.ChannelMessageWithSource, data: reply },
    auth: false,
    query: new URLSearchParams({ with_response: 'true' }),
  });
}

// A refused callback (10062, too late) is the bench's to count, from the emulator; one line at exit says so.
let failed = 0;
let lastError = '';
client.on(Events.InteractionCreate, (interaction) => {
  if (!interaction.isChatInputCommand()) return;
  if (beforeUs > 0) spin(beforeUs);
  const answered = store ? stored(store, interaction).then(() => answer(interaction)) : answer(interaction);
  (afterUs > 0 ? answered.then(() => spin(afterUs)) : answered).catch((err: unknown) => {
    failed++;
    lastError = String(err);
  });
});
process.on('exit', () => {
  if (failed > 0) console.error(`baseline bot: ${failed} answers failed, the last: ${lastError}`);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 5_000).unref();
  // process.exit (not a signal's default) so a --cpu-prof profile is written.
  void client.destroy().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

client.once(Events.ClientReady, () => console.log('bot ready'));
await client.login(token);
