import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

/** Process entry: configuration, the app, and signals. Everything else is built in app.ts. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = createApp(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    // A hard deadline: a hung request must not keep the process alive.
    setTimeout(() => process.exit(1), 15_000).unref();
    app.stop(10_000).then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('unhandledRejection', (err) => app.log.error({ err }, 'unhandled rejection'));
  try {
    await app.start();
  } catch (err) {
    app.log.fatal({ err }, 'start failed');
    await app.stop(2_000).catch(() => undefined);
    process.exit(1);
  }
}

void main();
