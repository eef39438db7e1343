import path from 'node:path';
import { Client, Events, type Interaction } from 'discord.js';
import { systemClock, systemTimers, type Clock, type Timers } from './clock.js';
import { createComponentHandler } from './commands/components.js';
import { createSoraConfigCommand } from './commands/sora-config.js';
import { createSoraJobsCommand } from './commands/sora-jobs.js';
import { createSoraCommand } from './commands/sora.js';
import { commandDefinitions } from './commands/index.js';
import type { Config } from './config.js';
import { ControlsRepository } from './db/controls-repository.js';
import { WalCheckpointer } from './db/checkpointer.js';
import { openDatabase, type Db } from './db/database.js';
import { settleRestoredCopy } from './db/restored-copy.js';
import { PollHistory } from './db/job-history.js';
import { JobsRepository } from './db/jobs-repository.js';
import { SettingsRepository } from './db/settings-repository.js';
import { StateRepository } from './db/state-repository.js';
import { InteractionRouter } from './interactions.js';
import { createLogger, type Logger } from './logger.js';
import { Delivery, sweepTempFiles } from './jobs/delivery.js';
import { Dispatcher } from './jobs/dispatcher.js';
import { JobEvents, observeAll, type JobObserver } from './jobs/job-events.js';
import { JobService } from './jobs/job-service.js';
import { JobWorker } from './jobs/job-worker.js';
import { isIn, type LifecycleRules } from './jobs/lifecycle.js';
import { Poller } from './jobs/poller.js';
import { Presenter } from './jobs/presenter.js';
import { AdmissionService } from './services/admission.js';
import { Heartbeat, Ops, createBotMetrics, type Metrics } from './ops/index.js';
import { lifecycleMetrics } from './ops/metrics.js';
import { accepts, ModelCatalogue } from './services/capabilities.js';
import { syncCommands } from './services/command-sync.js';
import { DiscordMessenger, type DiscordCall } from './services/discord-messenger.js';
import { createBotRest, discordClientOptions, InvalidRequestGuard } from './services/discord-rest.js';
import { ImageRetention } from './services/image-retention.js';
import { ImageStore } from './services/image-store.js';
import { ModelAvailability } from './services/model-availability.js';
import { ChannelLogSender, lifecycleObserver, linePauseNotices, ModLog } from './services/mod-log.js';
import { nextPollDelay } from './services/poll-policy.js';
import { Reencoder, resolveBinaries } from './services/reencode.js';
import { SettingsService } from './services/settings.js';
import { TuziClient } from './services/tuzi/client.js';
import { WHOLE, type ShardOwnership } from './shard/ownership.js';
import type { DestinationStream } from 'pino';

/** What tests and benchmarks may replace; production uses the defaults. */
export interface AppOverrides {
  clock?: Clock;
  timers?: Timers;
  logDestination?: DestinationStream;
  logger?: Logger;
  random?: () => number;
  /**
   * The other shards, when this process is one of several (src/shard/ipc.ts):
   * told when this shard's line for upstream capacity moved, since a slot
   * freed here may be theirs to fill.
   */
  peers?: { lineMoved(): void };
  /** Sees every Discord request of the job messenger and how long it held its caller (benchmarks). */
  discordCalls?: (call: DiscordCall) => void;
}

export interface App {
  readonly config: Config;
  readonly client: Client;
  readonly db: Db;
  readonly jobs: JobsRepository;
  readonly poller: Poller;
  readonly log: Logger;
  /** Health checks, the metrics endpoint, daily backups (src/ops/). */
  readonly ops: Ops;
  readonly metrics: Metrics;
  readonly catalogue: ModelCatalogue;
  /** What the provider says about the catalogue (its model list, refused models). */
  readonly availability: ModelAvailability;
  /** Settles once the start-up look at the provider's model list ended (it never blocks start). */
  modelsChecked(): Promise<void>;
  /** The shard this process is (`{ id: 0, count: 1 }` without sharding): the jobs it follows. */
  readonly shard: ShardOwnership;
  /** Another shard's line moved (a slot was freed there): look at the line again. */
  lineMoved(): void;
  /** Logs in, waits for the gateway, syncs commands, recovers and starts the poller. */
  start(): Promise<void>;
  /** True when no interaction handler and no job step is running (tests wait for this). */
  idle(): boolean;
  /** Upstream requests running right now (benchmarks check the cap). */
  upstreamInFlight(): number;
  /** Stops background work, lets running steps finish (bounded), disconnects, closes the database. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * What the other shards need to hear: an upstream slot freed here (a job of
 * theirs may be next in the line), or a job gone from the line without
 * taking one (a cancel: theirs move up). Not every move of the line — a job
 * joining it or taking a slot here gives them nothing to send, and each
 * message costs every other shard a pass over the line.
 */
function linePeers(peers: { lineMoved(): void }): JobObserver {
  return (job, from) => {
    const freed = isIn(from, 'usesCapacity') && !isIn(job.status, 'usesCapacity');
    const leftLine = isIn(from, 'inLine') && !isIn(job.status, 'inLine') && !isIn(job.status, 'usesCapacity');
    if (freed || leftLine) peers.lineMoved();
  };
}

/** Leases and delivery retries, in one place. */
const LEASE_MS = 2 * 60_000;
/** The start-up look at `GET /v1/models` gives up after this. */
const MODELS_CHECK_MS = 10_000;
const MAX_DELIVERY_ATTEMPTS = 6;

/**
 * The composition root: everything is built here and passed in through
 * constructors, so every piece can also be built alone in a test.
 */
export function createApp(config: Config, overrides: AppOverrides = {}): App {
  const clock = overrides.clock ?? systemClock;
  const timers = overrides.timers ?? systemTimers;
  const log =
    overrides.logger ??
    createLogger({
      level: config.logLevel,
      secrets: [config.discordToken, config.tuziApiKey],
      ...(overrides.logDestination ? { destination: overrides.logDestination } : {}),
    });

  const catalogue = new ModelCatalogue(config.catalogue);
  const shard = config.shard ?? WHOLE;
  const db = openDatabase(config.databasePath);
  // The WAL's checkpoints on their own thread, not inside a commit on the event loop (src/db/checkpointer.ts),
  // on real timers: the WAL grows in real time, and a test's simulated hours must not tick it thousands of times.
  const checkpointer = WalCheckpointer.start(db, systemTimers, log);
  // Before anything reads a job: a restored backup's unfinished rows are settled once, at open.
  const restored = settleRestoredCopy(db, clock.now());
  if (restored) log.warn(restored, 'opened a restored backup: unfinished jobs look for their post first');
  const jobs = new JobsRepository(db, shard);
  const settingsRepo = new SettingsRepository(db);
  const state = new StateRepository(db);
  const settings = new SettingsService(settingsRepo, config.serverDefaults);
  const controls = new ControlsRepository(db);

  // --- ops: built before the services so they can be handed `metrics`; the
  // poller's timers are wrapped by `heartbeat` (the /healthz "poller alive").
  const heartbeat = new Heartbeat(clock);
  const metrics = createBotMetrics(config, db, clock, {
    runningSteps: () => poller.activeSteps,
    upstreamInFlight: () => tuzi.inFlight,
    linePaused: () => dispatcher.paused !== undefined,
  });
  // --- end ops

  const tuzi = new TuziClient({
    baseUrl: config.tuziBaseUrl,
    apiKey: config.tuziApiKey,
    maxConcurrency: config.tuziMaxConcurrency,
    logger: log,
    onRequest: (operation, status, ms) => metrics.upstreamRequest(operation, status, ms),
  });

  // Two REST instances (discord-rest.ts): the client's own for interactions, never held by the bot's 429s,
  // and the bot's for its channel routes, which never waits long on a rate limit inside a job step.
  const client = new Client({
    ...discordClientOptions(config.discordApiUrl),
    // Explicit, so that SHARDS in the environment (which discord.js reads) cannot change it.
    shards: [shard.id],
    shardCount: shard.count,
  });
  const botRest = createBotRest(config.discordToken, config.discordApiUrl);
  const invalidRequests = new InvalidRequestGuard(log);
  invalidRequests.watch(client.rest);
  invalidRequests.watch(botRest);

  const modLog = new ModLog(
    (guildId) => settings.effective(guildId).logChannel,
    new ChannelLogSender(botRest),
    clock,
    timers,
    log,
    (guildId) => client.guilds.cache.get(guildId)?.preferredLocale ?? 'en-US',
  );
  const admission = new AdmissionService(controls, settings, modLog, clock);

  const dataDir = path.dirname(path.resolve(config.databasePath));
  const random = overrides.random ?? Math.random;
  // What the provider's jobs took before, per model × duration × size: the poll schedule's prior.
  const pollHistory = new PollHistory(db);
  const pollBounds = { minMs: config.pollMinMs, maxMs: config.pollMaxMs };
  const rules: LifecycleRules = {
    maxWaitMs: config.jobMaxWaitMs,
    leaseMs: LEASE_MS,
    maxDeliveryAttempts: MAX_DELIVERY_ATTEMPTS,
    // Up to 10% random spread, so jobs started together do not poll in lockstep.
    pollDelay: (state, retryAfterMs) =>
      Math.max(
        Math.round(nextPollDelay(state, pollBounds, pollHistory.prior) * (1 + 0.1 * random())),
        retryAfterMs ?? 0,
      ),
  };
  const messenger = new DiscordMessenger(
    botRest,
    clock,
    () => client.user?.id,
    (guildId) => (guildId ? client.guilds.cache.get(guildId)?.premiumTier : undefined),
    overrides.discordCalls,
  );
  const presenter = new Presenter(jobs, messenger, clock, log, {
    progressEditMs: config.progressEditMs,
    optionalAllowed: () => invalidRequests.optionalAllowed(),
    prior: () => pollHistory.prior,
  });
  // The scheduler runs the worker's steps, and the worker's events wake the scheduler:
  // the one cycle in the graph, closed by a call that runs only once both exist.
  const poller = new Poller(jobs, { step: (job) => worker.step(job) }, clock, heartbeat.wrap(timers), log, {
    concurrency: config.tuziMaxConcurrency,
    leaseMs: LEASE_MS,
    resumeSpreadMs: Math.min(config.pollMaxMs, 30_000),
    idleCheckMs: 60_000,
    stepStarted: (lateMs) => metrics.stepStarted(lateMs),
  });
  const events = new JobEvents(
    jobs,
    clock,
    rules,
    presenter,
    {
      scheduler: () => poller.wake(),
      dispatcher: () => dispatcher.wake(),
    },
    log,
    observeAll(
      lifecycleObserver(modLog),
      lifecycleMetrics(metrics, () => clock.now()),
      ...(overrides.peers ? [linePeers(overrides.peers)] : []),
    ),
  );
  const binaries = config.reencodeTimeoutMs > 0 ? resolveBinaries(config) : undefined;
  if (config.reencodeTimeoutMs > 0 && !binaries)
    log.warn('ffmpeg/ffprobe not found for this platform: videos over the upload limit will be linked, not re-encoded');
  // Below the delivery lease: a re-encode never outlives the claim it runs under.
  const reencodeTimeoutMs = Math.min(config.reencodeTimeoutMs, LEASE_MS - 15_000);
  const delivery = new Delivery(events, messenger, tuzi, clock, log, {
    maxVideoBytes: config.maxVideoBytes,
    tempDir: config.tempDir,
    delivered: (mode, bytes) => metrics.delivered(mode, bytes),
    reencoded: (outcome) => metrics.reencode(outcome),
    ...(binaries ? { reencoder: new Reencoder({ binaries, timeoutMs: reencodeTimeoutMs }) } : {}),
  });
  const worker = new JobWorker(events, tuzi, delivery, clock, log, rules);
  const images = new ImageStore(path.join(dataDir, 'images'), config.maxImageBytes);
  const retention = new ImageRetention(jobs, images, clock, timers, log, {
    keepMs: config.imageRetentionMs,
    everyMs: 6 * 60 * 60_000,
    orphanGraceMs: 60 * 60_000,
  });
  const availability = new ModelAvailability(catalogue, tuzi, clock, log);
  const dispatcher = new Dispatcher(
    jobs,
    events,
    tuzi,
    presenter,
    state,
    clock,
    timers,
    log,
    {
      // The key's cap, over every shard's jobs (Dispatcher.claim).
      maxRunning: config.tuziMaxRunningJobs,
      refreshMs: config.progressEditMs,
      probeMinMs: 60_000,
      probeMaxMs: 10 * 60_000,
      backoffMs: 5_000,
      accepts: (model, field) => {
        const entry = catalogue.find(model);
        return !entry || accepts(entry, field);
      },
    },
    {
      ...linePauseNotices(
        modLog,
        () => {
          const byGuild = new Map<string, number>();
          for (const w of jobs.line().waiting) if (w.guildId) byGuild.set(w.guildId, (byGuild.get(w.guildId) ?? 0) + 1);
          return byGuild;
        },
        () => clock.now(),
      ),
      modelUnavailable: (model, message) => availability.noteRefused(model, message),
    },
  );
  const jobService = new JobService(
    jobs,
    events,
    settings,
    tuzi,
    images,
    dispatcher,
    clock,
    log,
    { maxImageBytes: config.maxImageBytes, catalogue },
    admission,
  );

  const history = createSoraJobsCommand({ jobs });
  const router = new InteractionRouter(
    [
      createSoraCommand({ jobs: jobService, jobsRepo: jobs, clock, timers, catalogue }),
      createSoraConfigCommand({
        settings,
        settingsRepo,
        controls,
        jobs,
        clock,
        modLog,
        catalogue,
        availability,
        service: () => (dispatcher.paused ? { paused: dispatcher.paused } : {}),
      }),
      history.command,
    ],
    createComponentHandler({
      jobs: jobService,
      jobsRepo: jobs,
      pager: history.pager,
      clock,
      log,
      imageRetentionDays: config.imageRetentionDays,
    }),
    log,
  );
  // Handlers still running at shutdown (a submission mid-POST) are waited for, within the deadline.
  const handling = new Set<Promise<void>>();
  let accepting = true;
  client.on(Events.InteractionCreate, (interaction: Interaction) => {
    if (!accepting) return;
    const run = router.handle(interaction).finally(() => handling.delete(run));
    handling.add(run);
  });
  client.on(Events.Error, (err) => log.error({ err }, 'discord client error'));
  // ops: health, REST counters, backups. A shard of a manager does not listen: the manager serves every shard's view.
  const ops = new Ops({
    config,
    db,
    client,
    clock,
    timers,
    log,
    metrics,
    heartbeat,
    rests: [botRest],
    serve: config.shard === undefined,
  });
  // Chores of the whole bot, not of a shard: done once, by shard 0.
  const firstShard = shard.id === 0;
  client.on(Events.ShardDisconnect, (event, shard) => log.warn({ code: event.code, shard }, 'gateway disconnected'));

  let stopped = false;
  let modelsChecked: Promise<void> = Promise.resolve();
  return {
    config,
    client,
    db,
    jobs,
    poller,
    log,
    ops,
    metrics,
    catalogue,
    availability,
    modelsChecked: () => modelsChecked,
    shard,
    lineMoved() {
      dispatcher.wake();
    },
    async start() {
      await ops.startServer(); // ops: /healthz answers 503 until the gateway, database and poller are up
      log.info(
        { source: config.catalogueSource, models: catalogue.ids(), default: catalogue.defaultModel.id },
        'model catalogue',
      );
      // Not awaited: a provider without the route, or a slow one, must not hold up the start.
      modelsChecked = availability.check(MODELS_CHECK_MS);
      // Before the gateway connects, so every row still in `submitting` was left by an earlier process.
      const interrupted = jobService.settleInterrupted();
      if (interrupted.length > 0)
        log.warn({ interrupted: interrupted.length }, 'jobs caught mid-submission were marked, not resent');
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      await client.login(config.discordToken);
      await ready;
      const applicationId = client.application!.id;
      if (firstShard)
        await syncCommands(
          botRest,
          state,
          log,
          applicationId,
          commandDefinitions(catalogue),
          config.discordGuildId,
        ).catch((err: unknown) =>
          log.error({ err }, 'command registration failed; the previous registration stays in place'),
        );
      for (const applied of interrupted)
        await events
          .run(applied)
          .catch((err: unknown) => log.warn({ err, jobId: applied.job.id }, 'could not explain an interrupted job'));
      const swept = await sweepTempFiles(config.tempDir, (id) => {
        const job = jobs.get(id);
        return job !== undefined && isIn(job.status, 'hasVideo') && isIn(job.status, 'scheduled');
      });
      if (swept > 0) log.info({ swept }, 'removed videos left by deliveries that are over');
      poller.start();
      dispatcher.start();
      heartbeat.beat(); // ops: start() ran the poller's first pass outside a timer
      if (firstShard) {
        retention.start();
        ops.startBackups(); // ops
      }
      log.info({ user: client.user?.tag, guilds: client.guilds.cache.size, shards: shard.count }, 'bot ready');
    },
    upstreamInFlight() {
      return tuzi.inFlight;
    },
    idle() {
      return handling.size === 0 && poller.activeSteps === 0 && !dispatcher.busy && modLog.sending === 0;
    },
    async stop(timeoutMs = 10_000) {
      if (stopped) return;
      stopped = true;
      accepting = false;
      const within = (ms: number, work: Promise<unknown>) =>
        Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      await within(
        timeoutMs,
        Promise.allSettled([...handling, dispatcher.stop(timeoutMs), poller.stop(timeoutMs), retention.stop()]),
      );
      // What still waits on upstream (a create that never answers) is cut now,
      // while Discord is still connected, so its handler can record the outcome
      // and tell the member before the client goes.
      await tuzi.close(Math.min(timeoutMs, 2_000));
      await within(1_000, Promise.allSettled([...handling, dispatcher.stop(1_000), poller.stop(1_000)]));
      // What the moderator log still holds goes out while Discord is connected.
      await within(2_000, modLog.close());
      await ops.stop(); // ops: waits for a backup in progress, which needs the database
      await client.destroy();
      botRest.clearHashSweeper();
      botRest.clearHandlerSweeper();
      await checkpointer?.close();
      db.close();
      log.info('stopped');
    },
  };
}
