/**
 * `npm run backup -- <file>`: a consistent copy of the bot's database, safe
 * while the bot runs (SQLite's online backup API; see src/db/backup.ts).
 * Reads DATABASE_PATH like the bot (environment or .env); `--database PATH`
 * overrides it. Exits 1 with a message on any failure; the copy then does
 * not exist under <file>.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import { backupDatabase, openForBackup } from '../src/db/backup.js';

const USAGE = 'usage: npm run backup -- <file> [--database PATH]';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options: { database: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [target, ...extra] = parsed.positionals;
  if (!target || extra.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  dotenv.config({ path: '.env', quiet: true });
  const source = parsed.values.database ?? (process.env.DATABASE_PATH?.trim() || './data/sora-bot.db');
  let db;
  try {
    db = openForBackup(source);
  } catch (err) {
    process.stderr.write(`Cannot open the database ${path.resolve(source)}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    // `whole`: this process is not the bot, so the bot's writes would restart a stepwise copy.
    const result = await backupDatabase(db, target, { takenAt: Date.now(), mode: 'whole' });
    process.stdout.write(`Backed up ${path.resolve(source)} to ${result.file} (${result.bytes} bytes, checked)\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`Backup failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    db.close();
  }
}

process.exitCode = await main();
