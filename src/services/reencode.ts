import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { createRequire } from 'node:module';
import { Semaphore } from './tuzi/semaphore.js';

/**
 * Makes a video that is over the upload limit fit it, with ffmpeg in a child
 * process: the event loop only waits on a pipe. The bitrate is computed from
 * the duration so the result lands under the limit in one pass; the
 * resolution is kept unless that bitrate would starve it; the audio is kept.
 * Time and memory are bounded (a timeout, a resident-memory ceiling, a
 * thread cap, one encode at a time), and nothing is left on disk when it
 * fails.
 */

export interface Binaries {
  ffmpeg: string;
  ffprobe: string;
}

/**
 * The ffmpeg and ffprobe that `npm ci` installed (@ffmpeg-installer/ffmpeg and
 * @ffprobe-installer/ffprobe ship the binaries inside their per-platform
 * packages: nothing is downloaded at install time), unless the operator named
 * others. Undefined when neither is available for this platform: the bot then
 * posts a link, as it did before re-encoding existed.
 */
export function resolveBinaries(overrides: { ffmpegPath?: string; ffprobePath?: string } = {}): Binaries | undefined {
  const require = createRequire(import.meta.url);
  const installed = (pkg: string): string | undefined => {
    try {
      return (require(pkg) as { path: string }).path;
    } catch {
      return undefined;
    }
  };
  const ffmpeg = overrides.ffmpegPath ?? installed('@ffmpeg-installer/ffmpeg');
  const ffprobe = overrides.ffprobePath ?? installed('@ffprobe-installer/ffprobe');
  return ffmpeg && ffprobe ? { ffmpeg, ffprobe } : undefined;
}

export interface ReencoderOptions {
  binaries: Binaries;
  /** Longest one re-encode may run (both attempts); then ffmpeg is killed. */
  timeoutMs: number;
  /** x264 threads (default 2: the machine's two cores, leaving the bot its share through the OS scheduler). */
  threads?: number;
  /** ffmpeg is killed when its resident memory passes this (Linux, read from /proc). Default 1 GiB. */
  maxRssBytes?: number;
  /** Re-encodes running at once (default 1: each one already uses every core it is given). */
  concurrency?: number;
  /** x264 preset (default `veryfast`: a few seconds for a short 720p clip on two cores). */
  preset?: string;
}

/** What ffprobe says about a file, as the encode plan needs it. */
export interface Probe {
  formatName: string;
  durationS: number;
  width: number;
  height: number;
  fps: number;
  videoCodec: string;
  hasAudio: boolean;
  /** The source audio bitrate in kbit/s, when ffprobe knows it. */
  audioKbps: number | undefined;
}

/** How a video will be encoded to fit `maxBytes`. */
export interface EncodePlan {
  videoKbps: number;
  audioKbps: number | undefined;
  /** The output height; undefined keeps the source resolution. */
  height: number | undefined;
}

export interface FitResult {
  bytes: number;
  width: number;
  height: number;
  durationS: number;
  /** Encodes run (a second one when the first came out over the limit). */
  attempts: number;
  /** Real time spent, probing included. */
  elapsedMs: number;
  /** The largest resident memory ffmpeg reached (VmHWM), when /proc tells. */
  peakRssBytes: number | undefined;
  plan: EncodePlan;
}

export class ReencodeError extends Error {
  override readonly name = 'ReencodeError';
  constructor(
    message: string,
    /** `unfit`: the video cannot fit at any sensible bitrate; the rest are failures of the run. */
    readonly reason: 'unfit' | 'probe' | 'encode' | 'timeout' | 'memory' | 'aborted',
  ) {
    super(message);
  }
}

/** Share of the limit the first encode aims at: MP4 boxes and x264's rate control overshoot take the rest. */
const FIRST_TARGET = 0.9;
/** The second encode aims this far under what the first one missed by. */
const RETRY_MARGIN = 0.9;
/** Below this, a frame is starved: bits per pixel per frame under which the picture is scaled down instead. */
const MIN_BITS_PER_PIXEL = 0.05;
/** Never scaled below this height (a 240p video still shows what it is). */
const MIN_HEIGHT = 240;
/** Below this video bitrate nothing watchable comes out: the video is linked instead. */
const MIN_VIDEO_KBPS = 100;
const MAX_AUDIO_KBPS = 128;
/** The encoder's niceness (0 is the bot's; 19 the lowest). */
const NICE = 10;
const MIN_AUDIO_KBPS = 32;

/**
 * The encode that fits `maxBytes`: the whole budget spread over the duration,
 * the audio's share first (kept at its own rate up to 128 kbit/s, less only
 * when the budget is tight), the rest for the picture. Pure, for tests.
 */
export function planEncode(probe: Probe, maxBytes: number, target = FIRST_TARGET): EncodePlan {
  if (!(probe.durationS > 0)) throw new ReencodeError('the video has no duration', 'probe');
  const totalKbps = (maxBytes * 8 * target) / probe.durationS / 1000;
  const audioKbps = probe.hasAudio
    ? Math.round(Math.max(MIN_AUDIO_KBPS, Math.min(MAX_AUDIO_KBPS, probe.audioKbps ?? MAX_AUDIO_KBPS, totalKbps * 0.1)))
    : undefined;
  const videoKbps = Math.floor(totalKbps - (audioKbps ?? 0));
  if (videoKbps < MIN_VIDEO_KBPS)
    throw new ReencodeError(
      `a ${probe.durationS.toFixed(1)} s video cannot fit ${maxBytes} bytes (${videoKbps} kbit/s left for the picture)`,
      'unfit',
    );
  const bitsPerPixel = (videoKbps * 1000) / (probe.width * probe.height * Math.max(1, probe.fps));
  if (bitsPerPixel >= MIN_BITS_PER_PIXEL || probe.height <= MIN_HEIGHT)
    return { videoKbps, audioKbps, height: undefined };
  const scaled = Math.round((probe.height * Math.sqrt(bitsPerPixel / MIN_BITS_PER_PIXEL)) / 2) * 2;
  return { videoKbps, audioKbps, height: Math.max(MIN_HEIGHT, scaled) };
}

/** ffmpeg's arguments for a plan: H.264 + AAC in MP4, constrained to the bitrate, `moov` first so it plays at once. */
export function encodeArgs(input: string, output: string, plan: EncodePlan, o: { threads: number; preset: string }) {
  const v = `${plan.videoKbps}k`;
  return [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', input],
    ...['-map', '0:v:0', '-map', '0:a:0?', '-sn', '-dn'],
    ...['-c:v', 'libx264', '-preset', o.preset, '-pix_fmt', 'yuv420p', '-threads', String(o.threads)],
    // An average rate with a ceiling and a two-second buffer: the size follows the budget closely.
    ...['-b:v', v, '-maxrate', v, '-bufsize', `${plan.videoKbps * 2}k`],
    ...(plan.height !== undefined ? ['-vf', `scale=-2:${plan.height}`] : []),
    ...(plan.audioKbps !== undefined ? ['-c:a', 'aac', '-b:a', `${plan.audioKbps}k`] : ['-an']),
    ...['-movflags', '+faststart', '-f', 'mp4', output],
  ];
}

interface RunOutcome {
  peakRssBytes: number | undefined;
}

/** A process's peak (VmHWM) and current (VmRSS) resident memory in bytes, from /proc; undefined off Linux. */
function procMemory(pid: number): { peak: number; now: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
    const peak = kb('VmHWM');
    const now = kb('VmRSS');
    return Number.isFinite(peak) && Number.isFinite(now) ? { peak, now } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a binary to the end, within a deadline and a memory ceiling, keeping
 * the last few KiB of what it writes to stderr (its error) and all of stdout
 * up to a bound (ffprobe's JSON).
 */
function run(
  file: string,
  args: string[],
  limits: { deadline: number; maxRssBytes: number; signal: AbortSignal | undefined },
): Promise<RunOutcome & { stdout: string }> {
  return new Promise((resolve, reject) => {
    if (limits.signal?.aborted) {
      reject(new ReencodeError('aborted', 'aborted'));
      return;
    }
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Below the bot's priority: on a small machine the encode takes the idle CPU, not the bot's turn.
    if (child.pid !== undefined) {
      try {
        os.setPriority(child.pid, NICE);
      } catch {
        // Not permitted here: it runs at the bot's priority.
      }
    }
    let stdout = '';
    let stderr = '';
    let peak: number | undefined;
    let killedFor: ReencodeError | undefined;
    const kill = (why: ReencodeError) => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (stdout.length < 1024 * 1024) stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr = (stderr + c).slice(-4096);
    });
    const timer = setTimeout(
      () => kill(new ReencodeError(`${file} ran past its deadline`, 'timeout')),
      Math.max(0, limits.deadline - Date.now()),
    );
    const watch = setInterval(() => {
      const mem = child.pid === undefined ? undefined : procMemory(child.pid);
      if (!mem) return;
      peak = Math.max(peak ?? 0, mem.peak);
      if (mem.now > limits.maxRssBytes)
        kill(new ReencodeError(`ffmpeg passed its memory ceiling (${Math.round(mem.now / 2 ** 20)} MiB)`, 'memory'));
    }, 100);
    const onAbort = () => kill(new ReencodeError('aborted', 'aborted'));
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      clearInterval(watch);
      limits.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => {
      done();
      reject(new ReencodeError(`could not start ${file}: ${err.message}`, 'encode'));
    });
    child.once('close', (code, signal) => {
      // The last reading before exit is the closest to the true peak.
      done();
      if (killedFor) reject(killedFor);
      else if (code !== 0)
        reject(new ReencodeError(`${file} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`, 'encode'));
      else resolve({ stdout, peakRssBytes: peak });
    });
    // Read right after start too: a short run may end before the first interval.
    setImmediate(() => {
      const mem = child.pid === undefined ? undefined : procMemory(child.pid);
      if (mem) peak = Math.max(peak ?? 0, mem.peak);
    });
  });
}

export class Reencoder {
  private readonly gate: Semaphore;
  private readonly threads: number;
  private readonly preset: string;
  private readonly maxRssBytes: number;

  constructor(private readonly options: ReencoderOptions) {
    this.gate = new Semaphore(options.concurrency ?? 1);
    this.threads = options.threads ?? 2;
    this.preset = options.preset ?? 'veryfast';
    this.maxRssBytes = options.maxRssBytes ?? 1024 * 1024 * 1024;
  }

  /** Reads a file's container, duration, picture and audio with ffprobe. */
  async probe(file: string, deadline = Date.now() + 30_000, signal?: AbortSignal): Promise<Probe> {
    const { stdout } = await run(
      this.options.binaries.ffprobe,
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file],
      { deadline, maxRssBytes: this.maxRssBytes, signal },
    ).catch((err: unknown) => {
      if (err instanceof ReencodeError && err.reason === 'encode') throw new ReencodeError(err.message, 'probe');
      throw err;
    });
    return parseProbe(stdout);
  }

  /**
   * Encodes `input` into `output` so that it is at most `maxBytes`. Throws
   * ReencodeError when it cannot (then `output` does not exist).
   */
  async fit(input: string, output: string, maxBytes: number, signal?: AbortSignal): Promise<FitResult> {
    return this.gate.run(async () => {
      const started = Date.now();
      const deadline = started + this.options.timeoutMs;
      try {
        return await this.fitNow(input, output, maxBytes, { started, deadline, signal });
      } catch (err) {
        await rm(output, { force: true });
        throw err;
      }
    }, signal);
  }

  private async fitNow(
    input: string,
    output: string,
    maxBytes: number,
    at: { started: number; deadline: number; signal: AbortSignal | undefined },
  ): Promise<FitResult> {
    const source = await this.probe(input, at.deadline, at.signal);
    let plan = planEncode(source, maxBytes);
    let peak: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const outcome = await run(
        this.options.binaries.ffmpeg,
        encodeArgs(input, output, plan, { threads: this.threads, preset: this.preset }),
        { deadline: at.deadline, maxRssBytes: this.maxRssBytes, signal: at.signal },
      );
      if (outcome.peakRssBytes !== undefined) peak = Math.max(peak ?? 0, outcome.peakRssBytes);
      const bytes = (await stat(output)).size;
      if (bytes <= maxBytes) {
        const made = await this.probe(output, at.deadline, at.signal);
        await checkPlayable(output, made, source);
        return {
          bytes,
          width: made.width,
          height: made.height,
          durationS: made.durationS,
          attempts: attempt,
          elapsedMs: Date.now() - at.started,
          peakRssBytes: peak,
          plan,
        };
      }
      if (attempt >= 2) throw new ReencodeError(`the re-encode is ${bytes} bytes, over ${maxBytes}`, 'unfit');
      // Rate control missed: aim under the limit by what it overshot, once.
      plan = planEncode(source, maxBytes, (FIRST_TARGET * maxBytes * RETRY_MARGIN) / bytes);
    }
  }
}

/** The output must be an MP4 with a picture and (about) the source's length, or it is not what members get. */
async function checkPlayable(file: string, made: Probe, source: Probe): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await handle.read(head, 0, 8, 0);
    if (head.toString('latin1', 4, 8) !== 'ftyp') throw new ReencodeError('the re-encode is not an MP4', 'encode');
  } finally {
    await handle.close();
  }
  if (made.videoCodec !== 'h264') throw new ReencodeError(`the re-encode has no H.264 picture`, 'encode');
  if (Math.abs(made.durationS - source.durationS) > Math.max(0.5, source.durationS * 0.05))
    throw new ReencodeError(`the re-encode lasts ${made.durationS} s, the source ${source.durationS} s`, 'encode');
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string };
  streams?: {
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    duration?: string;
    bit_rate?: string;
  }[];
}

function rate(text: string | undefined): number {
  const [n, d] = (text ?? '').split('/').map(Number);
  if (n === undefined || !Number.isFinite(n)) return 0;
  return d && Number.isFinite(d) && d !== 0 ? n / d : n;
}

/** ffprobe's JSON as the plan needs it; a file with no video stream is not a video. */
export function parseProbe(json: string): Probe {
  let data: FfprobeJson;
  try {
    data = JSON.parse(json) as FfprobeJson;
  } catch {
    throw new ReencodeError('ffprobe gave no readable answer', 'probe');
  }
  const video = data.streams?.find((s) => s.codec_type === 'video');
  const audio = data.streams?.find((s) => s.codec_type === 'audio');
  if (!video?.width || !video.height) throw new ReencodeError('no video stream', 'probe');
  const durationS = Number(data.format?.duration ?? video.duration);
  if (!(durationS > 0)) throw new ReencodeError('no duration', 'probe');
  const audioBits = Number(audio?.bit_rate);
  return {
    formatName: data.format?.format_name ?? '',
    durationS,
    width: video.width,
    height: video.height,
    fps: rate(video.avg_frame_rate) || rate(video.r_frame_rate) || 30,
    videoCodec: video.codec_name ?? '',
    hasAudio: audio !== undefined,
    audioKbps: Number.isFinite(audioBits) && audioBits > 0 ? audioBits / 1000 : undefined,
  };
}
