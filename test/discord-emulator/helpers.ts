import { Client, Events, GatewayIntentBits, type Interaction } from 'discord.js';
import {
  startDiscordEmulator,
  type ChannelInfo,
  type DiscordEmulator,
  type DiscordEmulatorOptions,
  type GuildInfo,
  type UserInfo,
} from '../../emulators/discord/index.js';

/** A guild command exercising the option types the bot uses. */
export const SORA_COMMAND = {
  name: 'sora',
  description: 'Make a video',
  options: [
    { type: 3, name: 'prompt', description: 'What to show', required: true, max_length: 2000 },
    {
      type: 4,
      name: 'seconds',
      description: 'Length',
      choices: [
        { name: '4 s', value: 4 },
        { name: '8 s', value: 8 },
      ],
    },
    { type: 5, name: 'private', description: 'Only you see it' },
    { type: 11, name: 'image', description: 'Reference image' },
    { type: 3, name: 'character', description: 'Reuse a character', autocomplete: true },
  ],
};

export const JOBS_COMMAND = {
  name: 'jobs',
  description: 'Your jobs',
  options: [
    {
      type: 1,
      name: 'list',
      description: 'List them',
      options: [{ type: 4, name: 'page', description: 'Page', min_value: 1 }],
    },
    {
      type: 1,
      name: 'show',
      description: 'One job',
      options: [{ type: 3, name: 'id', description: 'Job id', required: true }],
    },
  ],
};

export interface Harness {
  discord: DiscordEmulator;
  guild: GuildInfo;
  channel: ChannelInfo;
  user: UserInfo;
  clients: Client[];
  /** Logs in a real discord.js client and waits for clientReady. */
  login(): Promise<Client>;
  /** Resolves with the next interaction the client receives. */
  next<T extends Interaction = Interaction>(client: Client): Promise<T>;
  close(): Promise<void>;
}

export async function harness(opts: DiscordEmulatorOptions = {}): Promise<Harness> {
  const discord = await startDiscordEmulator(opts);
  const guild = discord.createGuild({ name: 'Test Server', locale: 'en-US' });
  const channel = guild.channels[0]!;
  const user = discord.createUser({ username: 'alice', locale: 'fr' });
  discord.registerCommands([SORA_COMMAND, JOBS_COMMAND], guild.id);
  const clients: Client[] = [];
  const h: Harness = {
    discord,
    guild,
    channel,
    user,
    clients,
    async login() {
      const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: discord.apiUrl } });
      clients.push(client);
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      await client.login(discord.botToken);
      await ready;
      return client;
    },
    next<T extends Interaction>(client: Client) {
      return new Promise<T>((resolve) => client.once(Events.InteractionCreate, (i) => resolve(i as T)));
    },
    async close() {
      await Promise.all(clients.map((c) => c.destroy()));
      await discord.close();
    },
  };
  return h;
}

/** What an awaited call threw (or undefined). */
export async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err;
  }
}
