/**
 * Runs the Tuzi emulator on its own:
 *   npm run emulator:tuzi -- --port 8787 --job-seconds 20 [--host 127.0.0.1] [--content-mode redirect|direct]
 *     [--models models.json] [--max-running-jobs 2] [--credits 100] [--status-dialect relay]
 *     [--model-not-found openai|new-api] [--unknown-task openai|new-api] [--video-shape seed|openai|empty-url]
 *     [--asset-ttl-seconds 3600] [--models-endpoint ok|missing|error|hang]
 * The accepted key is TUZI_API_KEY when set, any non-empty Bearer key otherwise.
 * `--models` names a JSON array of models ({ id, durations, sizes, fields?, … }, see models.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { validateModels } from './models.js';
import { startTuziEmulator, STATUS_DIALECTS, type TuziEmulatorOptions } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    host: { type: 'string', default: '127.0.0.1' },
    'job-seconds': { type: 'string', default: '5' },
    'content-mode': { type: 'string', default: 'redirect' },
    'video-file': { type: 'string' },
    models: { type: 'string' },
    'max-running-jobs': { type: 'string' },
    credits: { type: 'string' },
    'status-dialect': { type: 'string' },
    'model-not-found': { type: 'string' },
    'unknown-task': { type: 'string' },
    'video-shape': { type: 'string' },
    'asset-ttl-seconds': { type: 'string' },
    'models-endpoint': { type: 'string' },
  },
  strict: true,
});

function fail(message: string): never {
  console.error(`emulator:tuzi: ${message}`);
  process.exit(2);
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    fail(`invalid --${name} ${value} (one of ${allowed.join(', ')})`);
  return value as T;
}

function count(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) fail(`invalid --${name} ${value}`);
  return n;
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${values.port}`);
const jobSeconds = Number(values['job-seconds']);
if (!Number.isFinite(jobSeconds) || jobSeconds < 0) fail(`invalid --job-seconds ${values['job-seconds']}`);
const contentMode = oneOf('content-mode', values['content-mode'], ['redirect', 'direct'] as const) ?? 'redirect';
const apiKey = process.env.TUZI_API_KEY;

const options: TuziEmulatorOptions = {
  port,
  host: values.host,
  jobDurationMs: Math.round(jobSeconds * 1000),
  contentMode,
  ...(apiKey ? { apiKey } : {}),
  ...(values['video-file'] ? { videoFile: values['video-file'] } : {}),
};
if (values.models !== undefined) {
  try {
    options.models = validateModels(JSON.parse(readFileSync(values.models, 'utf8')));
  } catch (err) {
    fail(`--models ${values.models}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
const maxRunning = count('max-running-jobs', values['max-running-jobs']);
if (maxRunning !== undefined) {
  if (!Number.isInteger(maxRunning)) fail(`invalid --max-running-jobs ${values['max-running-jobs']}`);
  options.maxRunningJobs = maxRunning;
}
const credits = count('credits', values.credits);
if (credits !== undefined) options.credits = credits;
const ttl = count('asset-ttl-seconds', values['asset-ttl-seconds']);
if (ttl !== undefined) options.assetTtlMs = Math.round(ttl * 1000);
const dialect = oneOf(
  'status-dialect',
  values['status-dialect'],
  Object.keys(STATUS_DIALECTS) as (keyof typeof STATUS_DIALECTS)[],
);
if (dialect) options.statuses = dialect;
const styles = ['openai', 'new-api'] as const;
const modelNotFound = oneOf('model-not-found', values['model-not-found'], styles);
if (modelNotFound) options.modelNotFound = modelNotFound;
const unknownTask = oneOf('unknown-task', values['unknown-task'], styles);
if (unknownTask) options.unknownTask = unknownTask;
const shape = oneOf('video-shape', values['video-shape'], ['seed', 'openai', 'empty-url'] as const);
if (shape) options.videoShape = shape;
const modelsEndpoint = oneOf('models-endpoint', values['models-endpoint'], ['ok', 'missing', 'error', 'hang'] as const);
if (modelsEndpoint) options.modelsEndpoint = modelsEndpoint;

const emulator = await startTuziEmulator(options);

// The URL is the first stdout line on its own so scripts can read it.
console.log(emulator.url);
console.error(
  `Tuzi emulator listening on ${emulator.url} (jobs take ${jobSeconds}s, content ${contentMode}, ` +
    `${apiKey ? 'key from TUZI_API_KEY' : 'any non-empty key'}, models: ${emulator.models.map((m) => m.id).join(', ')})`,
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
