/**
 * Runs the Discord emulator on its own, with one server, one channel and one
 * member, and prints what a bot needs to connect:
 *   npm run emulator:discord -- --port 0 [--token T] [--rate-limit] [--token-minutes 15]
 *     [--premium-tier 0-3] [--upload-kib-per-s N]
 * stdout: the API URL on the first line, then DISCORD_API_URL=, DISCORD_TOKEN=, DISCORD_GUILD_ID= lines.
 * stdin (optional) plays the member: `/sora prompt="a corgi" seconds=8`, `timeline`,
 * `disconnect`, `invalidate`, `help`.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startDiscordEmulator, type OptionValue } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    token: { type: 'string' },
    'application-id': { type: 'string' },
    'guild-name': { type: 'string', default: 'Emulated Server' },
    'token-minutes': { type: 'string', default: '15' },
    'upload-limit-mib': { type: 'string', default: '10' },
    'rate-limit': { type: 'boolean', default: false },
    'premium-tier': { type: 'string', default: '0' },
    'upload-kib-per-s': { type: 'string' },
  },
  strict: true,
});

function fail(message: string): never {
  console.error(`emulator:discord: ${message}`);
  process.exit(2);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${values.port}`);
const tokenMinutes = Number(values['token-minutes']);
if (!Number.isFinite(tokenMinutes) || tokenMinutes <= 0) fail(`invalid --token-minutes ${values['token-minutes']}`);
const uploadMiB = Number(values['upload-limit-mib']);
if (!Number.isFinite(uploadMiB) || uploadMiB <= 0) fail(`invalid --upload-limit-mib ${values['upload-limit-mib']}`);

const tier = Number(values['premium-tier']);
if (![0, 1, 2, 3].includes(tier)) fail(`invalid --premium-tier ${values['premium-tier']}`);
const uploadKiB = values['upload-kib-per-s'] === undefined ? undefined : Number(values['upload-kib-per-s']);
if (uploadKiB !== undefined && !(uploadKiB > 0)) fail(`invalid --upload-kib-per-s ${values['upload-kib-per-s']}`);

const discord = await startDiscordEmulator({
  port,
  host: values.host,
  tokenLifetimeMs: Math.round(tokenMinutes * 60_000),
  defaultUploadLimitBytes: Math.round(uploadMiB * 1024 * 1024),
  ...(values.token ? { botToken: values.token } : {}),
  ...(values['application-id'] ? { applicationId: values['application-id'] } : {}),
  ...(values['rate-limit'] ? { rateLimit: {} } : {}),
  ...(uploadKiB !== undefined ? { uploadBandwidth: { default: Math.round(uploadKiB * 1024) } } : {}),
});
const guild = discord.createGuild({ name: values['guild-name'], premiumTier: tier as 0 | 1 | 2 | 3 });
const channel = guild.channels[0]!;
const user = discord.createUser({ username: 'member' });

// The URL is the first stdout line on its own so scripts can read it.
console.log(discord.apiUrl);
console.log(`DISCORD_API_URL=${discord.apiUrl}`);
console.log(`DISCORD_TOKEN=${discord.botToken}`);
console.log(`DISCORD_GUILD_ID=${guild.id}`);
console.error(
  `Discord emulator on ${discord.baseUrl}: application ${discord.applicationId}, guild ${guild.id}, ` +
    `channel #${channel.name} ${channel.id}, member ${user.username} ${user.id}. Type "help" for commands.`,
);

/** Splits `a b="c d"` into words, keeping quoted parts together. */
function words(line: string): string[] {
  return [...line.matchAll(/(?:[^\s"]+|"[^"]*")+/g)].map((m) => m[0].replace(/"/g, ''));
}

/** Types option values by the registered definition, as Discord's client would. */
function typed(name: string, raw: Record<string, string>): Record<string, OptionValue> {
  const command =
    discord.commands(guild.id).find((c) => c.name === name) ?? discord.commands().find((c) => c.name === name);
  const out: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(raw)) {
    const type = command?.options?.find((o) => o.name === key)?.type;
    out[key] = type === 4 || type === 10 ? Number(value) : type === 5 ? value === 'true' : value;
  }
  return out;
}

const rl = createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  const [head, ...rest] = words(line.trim());
  if (!head) return;
  try {
    if (head.startsWith('/')) {
      const raw: Record<string, string> = {};
      let subcommand: string | undefined;
      for (const w of rest) {
        const eq = w.indexOf('=');
        if (eq > 0) raw[w.slice(0, eq)] = w.slice(eq + 1);
        else subcommand = w;
      }
      const name = head.slice(1);
      const handle = discord.invokeSlashCommand({
        guildId: guild.id,
        channelId: channel.id,
        userId: user.id,
        name,
        options: typed(name, raw),
        ...(subcommand ? { subcommand } : {}),
      });
      console.error(`interaction ${handle.id} sent to ${handle.deliveredTo} session(s)`);
      handle.acknowledged(3_500).then(
        (ack) => console.error(`acknowledged with type ${ack.type} after ${ack.afterMs} ms`),
        (err: unknown) => console.error(String(err)),
      );
    } else if (head === 'timeline') {
      for (const e of discord.timeline(channel.id)) {
        const files = e.attachments.map((a) => `${a.filename} (${a.size} B)`).join(', ');
        console.error(
          `${new Date(e.at).toISOString()} ${e.kind} ${e.messageId}${e.ephemeral ? ' [ephemeral]' : ''}${e.loading ? ' [thinking…]' : ''} ${JSON.stringify(e.content)} ${e.embeds.length} embed(s) ${files}`,
        );
      }
    } else if (head === 'disconnect') {
      console.error(`dropped ${discord.disconnectGateway()} session(s); they may resume`);
    } else if (head === 'invalidate') {
      console.error(`invalidated ${discord.disconnectGateway({ resumable: false })} session(s)`);
    } else {
      console.error('commands: /name [subcommand] key=value…   timeline   disconnect   invalidate');
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
  }
});

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  discord.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
