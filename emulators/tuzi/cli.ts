/**
 * Runs the Tuzi emulator on its own:
 *   npm run emulator:tuzi -- --port 8787 --job-seconds 20 [--host 127.0.0.1] [--content-mode redirect|direct]
 * The accepted key is TUZI_API_KEY when set, any non-empty Bearer key otherwise.
 */
import { parseArgs } from 'node:util';
import { startTuziEmulator } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    host: { type: 'string', default: '127.0.0.1' },
    'job-seconds': { type: 'string', default: '5' },
    'content-mode': { type: 'string', default: 'redirect' },
    'video-file': { type: 'string' },
  },
  strict: true,
});

function fail(message: string): never {
  console.error(`emulator:tuzi: ${message}`);
  process.exit(2);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${values.port}`);
const jobSeconds = Number(values['job-seconds']);
if (!Number.isFinite(jobSeconds) || jobSeconds < 0) fail(`invalid --job-seconds ${values['job-seconds']}`);
const contentMode = values['content-mode'];
if (contentMode !== 'redirect' && contentMode !== 'direct') fail(`invalid --content-mode ${contentMode}`);
const apiKey = process.env.TUZI_API_KEY;

const emulator = await startTuziEmulator({
  port,
  host: values.host,
  jobDurationMs: Math.round(jobSeconds * 1000),
  contentMode,
  ...(apiKey ? { apiKey } : {}),
  ...(values['video-file'] ? { videoFile: values['video-file'] } : {}),
});

// The URL is the first stdout line on its own so scripts can read it.
console.log(emulator.url);
console.error(
  `Tuzi emulator listening on ${emulator.url} (jobs take ${jobSeconds}s, content ${contentMode}, ` +
    `${apiKey ? 'key from TUZI_API_KEY' : 'any non-empty key'})`,
);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  emulator.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
