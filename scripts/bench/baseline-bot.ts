/**
 * The fastest a discord.js bot can acknowledge on this machine: the bot's own
 * client options (src/app.ts), and on INTERACTION_CREATE a deferral and
 * nothing else. `npm run bench` runs it next to the real bot, in its own
 * process against the same emulator, so the ratio between the two is what
 * our code costs, not what the machine or the emulator costs.
 */
import { Client, Events, GatewayIntentBits, type RESTOptions } from 'discord.js';

// A copy of src/app.ts's streamingFetch and client options: the baseline must
// send exactly as the bot sends (fetch, not undici's default dispatcher).
// Keep the two in step; src/app.ts does not export them.
function streamingFetch(url: string, init: RequestInit): Promise<Response> {
  return fetch(url, { ...init, window: null, redirect: 'error' });
}

const token = process.env.DISCORD_TOKEN;
if (!token) throw new Error('DISCORD_TOKEN is not set');
const api = process.env.DISCORD_API_URL;
/** `undici`: discord.js's default REST strategy instead of fetch, to price the bot's choice of fetch. */
const strategy = process.env.BASELINE_REST === 'undici' ? 'undici' : 'fetch';

const client = new Client({
  intents: [GatewayIntentBits.Guilds],
  allowedMentions: { parse: [] },
  rest: {
    ...(strategy === 'fetch'
      ? { makeRequest: streamingFetch as unknown as NonNullable<RESTOptions['makeRequest']> }
      : {}),
    ...(api ? { api } : {}),
  },
});

// A refused callback (10062, too late) is the bench's to count, from the emulator; one line at exit says so.
let failed = 0;
let lastError = '';
client.on(Events.InteractionCreate, (interaction) => {
  if (!interaction.isChatInputCommand()) return;
  interaction.deferReply().catch((err: unknown) => {
    failed++;
    lastError = String(err);
  });
});
process.on('exit', () => {
  if (failed > 0) console.error(`baseline bot: ${failed} deferrals failed, the last: ${lastError}`);
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
