/**
 * Checks the Dockerfile without Docker (CI has the client, not the engine):
 * it reads the Dockerfile and runs its steps on this machine, in a temporary
 * folder standing in for each stage's file system:
 *
 * 1. build stage: COPY from this checkout, RUN every command (npm ci, build,
 *    prune) with the stage's ENV; the apt-get line is not run, its packages
 *    are checked to be on this machine instead;
 * 2. run stage: COPY --from=build, the stage's ENV with container paths
 *    mapped to the temporary folder; its RUN lines (folder setup) must be the
 *    ones this script knows, and it does their work itself;
 * 3. the CMD starts as an unprivileged user (USER node → nobody here) against
 *    the Discord and Tuzi emulators; the HEALTHCHECK command must fail before
 *    the bot is up and pass once it is; /metrics answers; a /sora makes a
 *    video that is posted; `node dist/scripts/backup.js` copies the live
 *    database; SIGTERM stops the bot with exit code 0.
 *
 * What it cannot check: the base image itself (its Node, its `node` user,
 * /usr/local headers), apt-get, Docker's layer and volume handling.
 *
 *   npx tsx scripts/container-check.ts [--keep]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KEEP = process.argv.includes('--keep');
/** The unprivileged user standing in for the image's `node` user. */
const RUN_UID = 65534;
const RUN_GID = 65534;
/** What the run stage's RUN lines do, done here by `prepareRunStage`. */
const KNOWN_RUN_STAGE_COMMANDS = ['mkdir -p /data && chown node:node /data'];

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  name: string | undefined;
  image: string;
  steps: Instruction[];
}

const started = Date.now();
const log = (msg: string) => console.log(`[container-check +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
function fail(msg: string): never {
  throw new Error(msg);
}

/** Dockerfile instructions with continuations joined and comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.trimEnd().endsWith('\\')) {
      line = line.trimEnd().slice(0, -1);
      let next = lines[++i] ?? '';
      while (/^\s*#/.test(next)) next = lines[++i] ?? '';
      line += ` ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) fail(`Dockerfile line ${start + 1}: cannot read "${line}"`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? fail(`Dockerfile line ${start + 1}: bad FROM`);
      stages.push({ image: from[1]!, name: from[2], steps: [] });
      continue;
    }
    const stage = stages.at(-1) ?? fail(`Dockerfile line ${start + 1}: ${op} before FROM`);
    stage.steps.push({ op, args, line: start + 1 });
  }
  return stages;
}

/** `ENV a=b c="d e"` or the legacy `ENV a b`. */
function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!args.includes('=')) {
    const [k, ...v] = args.split(/\s+/);
    out[k!] = v.join(' ');
    return out;
  }
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  }
  return out;
}

/** `COPY [--from=x] [--chown=..] src... dest`. */
function parseCopy(args: string): { from: string | undefined; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  const dest = words.pop() ?? fail(`COPY without a destination: ${args}`);
  if (words.length === 0) fail(`COPY without a source: ${args}`);
  return { from, sources: words, dest };
}

/** A stand-in for one stage's file system: container paths map under `root`. */
class StageFs {
  cwd = '/';
  env: Record<string, string> = {};
  constructor(readonly root: string) {}
  host(containerPath: string): string {
    const abs = path.posix.resolve(this.cwd, containerPath);
    return path.join(this.root, abs);
  }
}

function copy(from: string, to: string, destIsDir: boolean): void {
  const stat = fs.statSync(from);
  const target = destIsDir && !stat.isDirectory() ? path.join(to, path.basename(from)) : to;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.cpSync(from, target, { recursive: true, verbatimSymlinks: true });
}

function run(cmd: string, cwd: string, env: Record<string, string>): void {
  const r = spawnSync('bash', ['-c', `set -euo pipefail; ${cmd}`], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) fail(`"${cmd}" exited with ${r.status ?? r.signal}`);
}

function buildStage(stage: Stage, fsys: StageFs): void {
  for (const step of stage.steps) {
    switch (step.op) {
      case 'WORKDIR':
        fsys.cwd = path.posix.resolve(fsys.cwd, step.args);
        fs.mkdirSync(fsys.host('.'), { recursive: true });
        break;
      case 'ENV':
        Object.assign(fsys.env, parseEnv(step.args));
        break;
      case 'COPY': {
        const c = parseCopy(step.args);
        if (c.from) fail(`build stage COPY --from is not supported (line ${step.line})`);
        const destIsDir = c.dest.endsWith('/') || c.sources.length > 1;
        for (const src of c.sources) copy(path.join(ROOT, src), fsys.host(c.dest), destIsDir);
        break;
      }
      case 'RUN': {
        if (/^apt-get\b/.test(step.args)) {
          const pkgs = /install\s+(?:-\S+\s+)*((?:[a-z0-9.+-]+\s*)+?)(?:&&|$)/
            .exec(step.args)?.[1]
            ?.trim()
            .split(/\s+/);
          for (const p of pkgs ?? []) {
            const tool = p === 'python3' ? 'python3' : p;
            if (spawnSync('bash', ['-c', `command -v ${tool}`]).status !== 0) fail(`${p} is not on this machine`);
          }
          log(`RUN apt-get: not run here; ${pkgs?.join(', ')} present on this machine`);
          break;
        }
        // The image's Node lives in /usr/local; this machine's npm knows where its own headers are.
        const env = { ...fsys.env };
        if (env.npm_config_nodedir) delete env.npm_config_nodedir;
        log(`RUN ${step.args}`);
        run(step.args, fsys.host('.'), env);
        break;
      }
      default:
        fail(`build stage: ${step.op} is not emulated (line ${step.line})`);
    }
  }
}

interface RunStage {
  fsys: StageFs;
  healthcheck: string[];
  cmd: string[];
  user: string;
}

function prepareRunStage(stage: Stage, fsys: StageFs, build: StageFs): RunStage {
  let healthcheck: string[] | undefined;
  let cmd: string[] | undefined;
  let user = 'root';
  const mapEnv = (v: string) => (v.startsWith('/') ? path.join(fsys.root, v) : v);
  for (const step of stage.steps) {
    switch (step.op) {
      case 'WORKDIR':
        fsys.cwd = path.posix.resolve(fsys.cwd, step.args);
        fs.mkdirSync(fsys.host('.'), { recursive: true });
        break;
      case 'ENV':
        for (const [k, v] of Object.entries(parseEnv(step.args))) fsys.env[k] = mapEnv(v);
        break;
      case 'COPY': {
        const c = parseCopy(step.args);
        if (c.from !== 'build') fail(`run stage COPY must come --from=build (line ${step.line})`);
        for (const src of c.sources) copy(build.host(src), fsys.host(c.dest), c.dest.endsWith('/'));
        break;
      }
      case 'RUN':
        if (!KNOWN_RUN_STAGE_COMMANDS.includes(step.args)) {
          fail(`run stage RUN "${step.args}" is unknown to this check (line ${step.line}); teach prepareRunStage`);
        }
        fs.mkdirSync(path.join(fsys.root, 'data'), { recursive: true });
        fs.chownSync(path.join(fsys.root, 'data'), RUN_UID, RUN_GID);
        break;
      case 'USER':
        user = step.args;
        break;
      case 'HEALTHCHECK': {
        const json = /CMD\s+(\[.*\])\s*$/.exec(step.args)?.[1] ?? fail('HEALTHCHECK must use CMD ["exec", "form"]');
        healthcheck = JSON.parse(json) as string[];
        break;
      }
      case 'CMD':
        cmd = JSON.parse(step.args) as string[];
        break;
      case 'VOLUME':
      case 'EXPOSE':
      case 'STOPSIGNAL':
        break;
      default:
        fail(`run stage: ${step.op} is not emulated (line ${step.line})`);
    }
  }
  if (user !== 'node') fail(`the run stage must end as USER node, not ${user}`);
  return {
    fsys,
    healthcheck: healthcheck ?? fail('no HEALTHCHECK'),
    cmd: cmd ?? fail('no CMD'),
    user,
  };
}

/** Runs a process as the unprivileged user, in the run stage's work folder. */
function spawnAsUser(rs: RunStage, argv: string[], env: Record<string, string>): ChildProcess {
  if (argv[0] !== 'node') fail(`expected a node command, got ${argv.join(' ')}`);
  return spawn(
    'setpriv',
    [`--reuid=${RUN_UID}`, `--regid=${RUN_GID}`, '--clear-groups', '--', process.execPath, ...argv.slice(1)],
    { cwd: rs.fsys.host('.'), env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', ...env }, stdio: 'pipe' },
  );
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts an emulator CLI from this checkout; resolves with its stdout lines as they come. */
async function startEmulator(script: string, args: string[], wantLines: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => stdout.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  await until(() => stdout.length >= wantLines, 30_000, `${script} to start`);
  return { child, stdout, stderr };
}

async function until(check: () => boolean, ms: number, what: string, everyMs = 200): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) fail('run as root: the bot is started as an unprivileged user through setpriv');
  const stages = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const buildSpec = stages.find((s) => s.name === 'build') ?? fail('no stage named build');
  const runSpec = stages.at(-1)!;
  if (runSpec === buildSpec) fail('the last stage must be the run stage');
  if (buildSpec.image !== runSpec.image) fail('build and run stages should share one base image');
  const nodeTag = /^node:(\d+\.\d+\.\d+)-/.exec(runSpec.image)?.[1];
  if (nodeTag !== process.versions.node) {
    log(`note: the image pins Node ${nodeTag}, this machine runs ${process.versions.node}`);
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'container-check-'));
  fs.chmodSync(tmp, 0o755);
  const children: ChildProcess[] = [];
  try {
    const build = new StageFs(path.join(tmp, 'build'));
    log(`build stage in ${build.root}`);
    buildStage(buildSpec, build);

    const rs = prepareRunStage(runSpec, new StageFs(path.join(tmp, 'run')), build);
    const modules = fs.readdirSync(rs.fsys.host('node_modules'));
    for (const dev of ['typescript', 'vitest', 'tsx', 'eslint', 'prettier']) {
      if (modules.includes(dev)) fail(`the run stage has the dev dependency ${dev}`);
    }
    for (const needed of ['better-sqlite3', 'discord.js', 'prom-client', 'undici']) {
      if (!modules.includes(needed)) fail(`the run stage lacks ${needed}`);
    }
    const size = spawnSync('du', ['-sh', rs.fsys.root], { encoding: 'utf8' }).stdout.split('\t')[0];
    log(`run stage ready: ${size} (node_modules: ${modules.length} entries, no dev dependencies)`);

    const discord = await startEmulator('emulators/discord/cli.ts', ['--port', '0'], 4);
    children.push(discord.child);
    const tuzi = await startEmulator('emulators/tuzi/cli.ts', ['--port', '0', '--job-seconds', '4'], 1);
    children.push(tuzi.child);
    const discordEnv = Object.fromEntries(
      discord.stdout.slice(1, 4).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const metricsPort = await freePort();
    const env: Record<string, string> = {
      ...rs.fsys.env,
      ...discordEnv,
      TUZI_API_KEY: 'sk-container-check-0123456789',
      TUZI_BASE_URL: tuzi.stdout[0]!,
      METRICS_PORT: String(metricsPort),
      BACKUP_DIR: path.join(rs.fsys.root, 'data', 'backups'),
      POLL_MIN_SECONDS: '1',
      POLL_MAX_SECONDS: '2',
      LOG_LEVEL: 'info',
    };

    const probe = async () => exitOf(spawnAsUser(rs, rs.healthcheck, env));
    if ((await probe()) === 0) fail('the HEALTHCHECK passed with no bot running');
    log('HEALTHCHECK fails while no bot runs (as it must)');

    const bot = spawnAsUser(rs, rs.cmd, env);
    children.push(bot);
    const botLines: string[] = [];
    createInterface({ input: bot.stdout! }).on('line', (l) => botLines.push(l));
    createInterface({ input: bot.stderr! }).on('line', (l) => botLines.push(l));
    let botExit: number | null | undefined;
    void exitOf(bot).then((c) => (botExit = c));

    const deadline = Date.now() + 60_000;
    for (;;) {
      if (botExit !== undefined) fail(`the bot exited with ${botExit}:\n${botLines.join('\n')}`);
      if ((await probe()) === 0) break;
      if (Date.now() > deadline) fail(`the HEALTHCHECK never passed:\n${botLines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    log(`"${rs.cmd.join(' ')}" runs as uid ${RUN_UID}; the HEALTHCHECK passes`);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    for (const name of [
      'sora_jobs{status="delivered"}',
      'nodejs_eventloop_lag_seconds',
      'sora_discord_requests_total',
    ]) {
      if (!metrics.includes(name)) fail(`/metrics lacks ${name}`);
    }
    log('/metrics answers');

    discord.child.stdin!.write('/sora prompt="a lighthouse in a storm"\n');
    const delivered = () => {
      discord.child.stdin!.write('timeline\n');
      return discord.stderr.some((l) => /\.mp4 \(\d+ B\)/.test(l));
    };
    await until(delivered, 60_000, 'the video to be posted', 1_000);
    log('a /sora made a video and the bot posted it');

    const backup = path.join(rs.fsys.root, 'data', 'manual.db');
    const copy = spawnAsUser(rs, ['node', 'dist/scripts/backup.js', backup], env);
    const copyOut: string[] = [];
    copy.stdout!.on('data', (d: Buffer) => copyOut.push(d.toString()));
    copy.stderr!.on('data', (d: Buffer) => copyOut.push(d.toString()));
    if ((await exitOf(copy)) !== 0 || !fs.existsSync(backup)) fail(`backup.js failed: ${copyOut.join('')}`);
    log(`node dist/scripts/backup.js copied the live database (${fs.statSync(backup).size} bytes)`);

    bot.kill('SIGTERM');
    await until(() => botExit !== undefined, 20_000, 'the bot to stop after SIGTERM');
    if (botExit !== 0) fail(`the bot exited with ${botExit} after SIGTERM:\n${botLines.slice(-20).join('\n')}`);
    log('SIGTERM: the bot stopped with exit code 0');
    log('container check passed');
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    if (KEEP) log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`[container-check] FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
