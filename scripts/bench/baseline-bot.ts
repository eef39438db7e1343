/**
 * The fastest a discord.js bot can acknowledge on this machine: the bot's own
 * client options (discordClientOptions, which src/app.ts builds its client
 * with), and on INTERACTION_CREATE a deferral and nothing else. `npm run
 * bench` runs it next to the real bot, in its own process against the same
 * emulator, so the ratio between the two is what our code costs, not what the
 * machine or the emulator costs.
 */
import { Client, Events } from 'discord.js';
// The bot's own client options (intents, allowedMentions, the interaction REST's transport and limits),
// imported rather than copied: "the same client" holds by construction.
import { discordClientOptions } from '../../src/services/discord-rest.js';

const token = process.env.DISCORD_TOKEN;
if (!token) throw new Error('DISCORD_TOKEN is not set');

const client = new Client(discordClientOptions(process.env.DISCORD_API_URL));

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
