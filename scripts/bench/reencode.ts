/**
 * Part 8 of `npm run bench`: a 30 MiB video delivered into a 10 MiB channel,
 * re-encoded to fit by the real bot in its own process (a simulated clock,
 * moved over IPC), against the same video posted as it is into a channel
 * that takes it, side by side in the same run. Figures: seconds per video,
 * peak RSS of the ffmpeg child and of the bot, and the bot's largest
 * event-loop stall meanwhile.
 */
import fs from 'node:fs';
import { ManualClock } from '../../src/clock.js';
import { bigVideo } from '../../emulators/video-fixture.js';
import { spawnSimulatedBot, startWorld } from '../../emulators/world.js';
import { median } from './stats.js';

const MiB = 1024 * 1024;

function status(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

function kbField(text: string, field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) * 1024;
}

/** Children of `pid` (Linux): from /proc/pid/task/*\/children, or by scanning /proc for the parent id. */
function childrenOf(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => / PPid:\s+(\d+)/.exec(` ${status(Number(d)) ?? ''}`.replace(/\n/g, ' '))?.[1] === String(pid))
      .map(Number);
  }
}

/** Samples the bot's RSS and its ffmpeg children's peaks every 20 ms. */
function sampler(botPid: number) {
  let botPeak = kbField(status(botPid) ?? '', 'VmRSS');
  const ffmpeg = new Map<number, { peak: number; first: number; last: number }>();
  const timer = setInterval(() => {
    botPeak = Math.max(botPeak, kbField(status(botPid) ?? '', 'VmRSS'));
    for (const child of childrenOf(botPid)) {
      const s = status(child);
      if (!s || !/^Name:\s+ffmpeg/m.test(s)) continue;
      const seen = ffmpeg.get(child) ?? { peak: 0, first: Date.now(), last: Date.now() };
      seen.peak = Math.max(seen.peak, kbField(s, 'VmHWM') || 0);
      seen.last = Date.now();
      ffmpeg.set(child, seen);
    }
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      const runs = [...ffmpeg.values()];
      return {
        botPeakRssMiB: botPeak / MiB,
        ffmpegPeakRssMiB: runs.length ? Math.max(...runs.map((r) => r.peak)) / MiB : 0,
        ffmpegRuns: runs.length,
        ffmpegSeconds: runs.reduce((n, r) => n + (r.last - r.first) / 1000, 0),
      };
    },
  };
}

export interface ReencodeRound {
  mode: 'reencoded' | 'as-is';
  videoMiB: number;
  postedMiB: number;
  /** From a second before the job's completion upstream to the post in the channel (poll, download, encode, upload). */
  deliverySeconds: number;
  ffmpegSeconds: number;
  ffmpegRuns: number;
  ffmpegPeakRssMiB: number;
  botRssBeforeMiB: number;
  botPeakRssMiB: number;
  maxEventLoopStallMs: number;
}

/** One delivery of the big video by a fresh bot process, into a channel with `limitMiB`. */
async function round(input: string, limitMiB: number): Promise<ReencodeRound> {
  const clock = new ManualClock(Date.now());
  const w = await startWorld({
    clock,
    noBot: true,
    discord: { defaultUploadLimitBytes: limitMiB * MiB },
    tuzi: { jobDurationMs: 20_000, videoFile: input },
    env: { POLL_MIN_SECONDS: '1', POLL_MAX_SECONDS: '2' },
  });
  const bot = await spawnSimulatedBot(w);
  try {
    const h = w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.users.alice,
      name: 'sora',
      options: { prompt: 'a noisy sea' },
      attachmentSizeLimit: limitMiB * MiB,
    });
    await h.acknowledged(10_000);
    // Up to just before the upstream completion on simulated time; from there on, real time counts.
    while (w.tuzi.jobs.size === 0) await bot.advance(1_000);
    const done = w.tuzi.jobs.values().next().value!.completedAt!;
    while (clock.now() < done - 1_000) await bot.advance(1_000);
    const before = kbField(status(bot.pid) ?? '', 'VmRSS') / MiB;
    await bot.resetStats();
    const watch = sampler(bot.pid);
    const started = Date.now();
    const posted = () =>
      w.discord.messages(w.channelId).find((m) => m.attachments.some((a) => a.filename.endsWith('.mp4')));
    for (let i = 0; !posted() && i < 60; i++) await bot.advance(1_000);
    const deliverySeconds = (Date.now() - started) / 1000;
    const mem = watch.stop();
    const stats = await bot.stats();
    const message = posted();
    if (!message) throw new Error(`the video was not posted into the ${limitMiB} MiB channel`);
    return {
      mode: limitMiB * MiB < fs.statSync(input).size ? 'reencoded' : 'as-is',
      videoMiB: fs.statSync(input).size / MiB,
      postedMiB: message.attachments[0]!.size / MiB,
      deliverySeconds,
      ffmpegSeconds: mem.ffmpegSeconds,
      ffmpegRuns: mem.ffmpegRuns,
      ffmpegPeakRssMiB: mem.ffmpegPeakRssMiB,
      botRssBeforeMiB: before,
      botPeakRssMiB: mem.botPeakRssMiB,
      maxEventLoopStallMs: stats.maxEventLoopStallMs,
    };
  } finally {
    await bot.stop();
    await w.close();
  }
}

export async function runReencodeBench(options: { rounds: number }) {
  const input = await bigVideo();
  const rounds: ReencodeRound[] = [];
  for (let i = 0; i < options.rounds; i++) {
    // Side by side: the same video posted as it is (a 50 MiB channel), then re-encoded (a 10 MiB one).
    rounds.push(await round(input, 50));
    rounds.push(await round(input, 10));
  }
  const of = (mode: ReencodeRound['mode']) => rounds.filter((r) => r.mode === mode);
  const re = of('reencoded');
  const direct = of('as-is');
  return {
    rounds,
    videoMiB: re[0]!.videoMiB,
    medianReencodedSeconds: median(re.map((r) => r.deliverySeconds)),
    medianAsIsSeconds: median(direct.map((r) => r.deliverySeconds)),
    medianFfmpegSeconds: median(re.map((r) => r.ffmpegSeconds)),
    ffmpegPeakRssMiB: Math.max(...re.map((r) => r.ffmpegPeakRssMiB)),
    botPeakGrowthMiB: Math.max(...re.map((r) => r.botPeakRssMiB - r.botRssBeforeMiB)),
    botPeakGrowthAsIsMiB: Math.max(...direct.map((r) => r.botPeakRssMiB - r.botRssBeforeMiB)),
    maxEventLoopStallMs: Math.max(...re.map((r) => r.maxEventLoopStallMs)),
    maxEventLoopStallAsIsMs: Math.max(...direct.map((r) => r.maxEventLoopStallMs)),
  };
}
