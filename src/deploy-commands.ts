import { REST, Routes, type RESTGetCurrentApplicationResult } from 'discord.js';
import { commandDefinitions } from './commands/index.js';
import { ConfigError, loadConfig } from './config.js';
import { ModelCatalogue } from './services/capabilities.js';
import { registerCommands } from './services/command-sync.js';

/** `npm run deploy-commands`: registers every definition now (globally, or to DISCORD_GUILD_ID). */
async function main(): Promise<void> {
  const config = loadConfig();
  const rest = new REST(config.discordApiUrl ? { api: config.discordApiUrl } : {}).setToken(config.discordToken);
  const app = (await rest.get(Routes.currentApplication())) as RESTGetCurrentApplicationResult;
  const definitions = commandDefinitions(new ModelCatalogue(config.catalogue));
  await registerCommands(rest, app.id, definitions, config.discordGuildId);
  const scope = config.discordGuildId
    ? `server ${config.discordGuildId} (instant)`
    : 'all servers (may take up to an hour to appear)';
  process.stdout.write(`Registered ${definitions.length} command(s) for ${scope}.\n`);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`Command registration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
