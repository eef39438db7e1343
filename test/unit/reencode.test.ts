import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  encodeArgs,
  parseProbe,
  planEncode,
  ReencodeError,
  Reencoder,
  type Probe,
} from '../../src/services/reencode.js';
import { bigVideo, binaries, ffprobe } from '../support/video-tools.js';

const MiB = 1024 * 1024;
const hd: Probe = {
  formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationS: 10,
  width: 1280,
  height: 720,
  fps: 30,
  videoCodec: 'h264',
  hasAudio: true,
  audioKbps: 96,
};

describe('planEncode', () => {
  it('spreads 90% of the limit over the duration, audio first at its own rate', () => {
    const plan = planEncode(hd, 10 * MiB);
    // 10 MiB × 8 × 0.9 / 10 s = 7549.7 kbit/s in all; the audio keeps its 96.
    expect(plan).toEqual({ videoKbps: 7453, audioKbps: 96, height: undefined });
  });

  it('keeps the resolution while the bitrate feeds it, and scales down only when it starves', () => {
    // 120 s in 10 MiB: 629 kbit/s in all, 63 of them audio (a tenth), 566 for the picture:
    // 0.0205 bits per pixel at 720p30, so scaled by √(0.0205 / 0.05) to 460p.
    const long = planEncode({ ...hd, durationS: 120 }, 10 * MiB);
    expect(long).toEqual({ videoKbps: 566, audioKbps: 63, height: 460 });
    // Never below 240p; a video already that small is left as it is.
    expect(planEncode({ ...hd, durationS: 450 }, 10 * MiB).height).toBe(240);
    expect(planEncode({ ...hd, width: 426, height: 240, durationS: 450 }, 10 * MiB).height).toBeUndefined();
  });

  it('a tight budget squeezes the audio before the picture, and a hopeless one is refused', () => {
    const tight = planEncode({ ...hd, durationS: 300, audioKbps: 256 }, 10 * MiB);
    expect(tight.audioKbps).toBeLessThan(128);
    expect(tight.audioKbps).toBeGreaterThanOrEqual(32);
    expect(planEncode({ ...hd, hasAudio: false }, 10 * MiB).audioKbps).toBeUndefined();
    expect(() => planEncode({ ...hd, durationS: 3600 }, 10 * MiB)).toThrow(ReencodeError);
  });

  it('asks ffmpeg for H.264 + AAC in MP4 at that rate, the moov box first, audio optional', () => {
    const args = encodeArgs(
      'in.mp4',
      'out.mp4',
      { videoKbps: 5000, audioKbps: 96, height: 480 },
      {
        threads: 2,
        preset: 'veryfast',
      },
    );
    expect(args.join(' ')).toContain('-map 0:v:0 -map 0:a:0?');
    expect(args.join(' ')).toContain('-c:v libx264 -preset veryfast -pix_fmt yuv420p -threads 2');
    expect(args.join(' ')).toContain('-b:v 5000k -maxrate 5000k -bufsize 10000k -vf scale=-2:480 -c:a aac -b:a 96k');
    expect(args.slice(-5)).toEqual(['-movflags', '+faststart', '-f', 'mp4', 'out.mp4']);
    expect(
      encodeArgs('i', 'o', { videoKbps: 1, audioKbps: undefined, height: undefined }, { threads: 1, preset: 'x' }),
    ).toContain('-an');
  });

  it('reads ffprobe’s JSON, and refuses what has no picture', () => {
    const probe = parseProbe(
      JSON.stringify({
        format: { format_name: 'mov,mp4', duration: '4.000000' },
        streams: [
          { codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: '24/1' },
          { codec_type: 'audio', codec_name: 'aac', bit_rate: '128000' },
        ],
      }),
    );
    expect(probe).toEqual({
      formatName: 'mov,mp4',
      durationS: 4,
      width: 640,
      height: 360,
      fps: 24,
      videoCodec: 'h264',
      hasAudio: true,
      audioKbps: 128,
    });
    expect(() => parseProbe(JSON.stringify({ format: { duration: '1' }, streams: [{ codec_type: 'audio' }] }))).toThrow(
      'no video stream',
    );
  });
});

describe('Reencoder (the ffmpeg that npm installed)', () => {
  let input: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reencode-'));
  beforeAll(async () => {
    input = await bigVideo();
  }, 120_000);

  it('makes a 30 MiB video fit 10 MiB: a playable MP4 of the same length, resolution and audio kept', async () => {
    expect(fs.statSync(input).size).toBeGreaterThanOrEqual(30 * MiB);
    const out = path.join(dir, 'fit.mp4');
    const fit = await new Reencoder({ binaries: binaries(), timeoutMs: 100_000 }).fit(input, out, 10 * MiB);
    expect(fit.bytes).toBe(fs.statSync(out).size);
    expect(fit.bytes).toBeLessThanOrEqual(10 * MiB);
    const probed = await ffprobe(out);
    expect(probed.formatName).toContain('mp4');
    expect(probed.durationS).toBeCloseTo(4, 0);
    expect(probed.streams).toEqual([
      { codecType: 'video', codecName: 'h264', width: 640, height: 360 },
      { codecType: 'audio', codecName: 'aac' },
    ]);
    expect(fit.peakRssBytes).toBeGreaterThan(0);
  }, 120_000);

  it('past its deadline ffmpeg is killed and nothing is left behind', async () => {
    const out = path.join(dir, 'late.mp4');
    const err = await new Reencoder({ binaries: binaries(), timeoutMs: 150 })
      .fit(input, out, 10 * MiB)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReencodeError);
    expect((err as ReencodeError).reason).toBe('timeout');
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);

  it('over its memory ceiling ffmpeg is killed', async () => {
    const out = path.join(dir, 'fat.mp4');
    const err = await new Reencoder({ binaries: binaries(), timeoutMs: 100_000, maxRssBytes: 4 * MiB })
      .fit(input, out, 10 * MiB)
      .catch((e: unknown) => e);
    expect((err as ReencodeError).reason).toBe('memory');
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);

  it('what is not a video is refused by the probe', async () => {
    const junk = path.join(dir, 'junk.mp4');
    const head = Buffer.from('00000020667479706973366d0000020069736f6d69736f32617663316d703431', 'hex');
    fs.writeFileSync(junk, Buffer.concat([head, Buffer.alloc(2 * MiB)]));
    const err = await new Reencoder({ binaries: binaries(), timeoutMs: 30_000 })
      .fit(junk, path.join(dir, 'junk-fit.mp4'), MiB)
      .catch((e: unknown) => e);
    expect((err as ReencodeError).reason).toBe('probe');
    expect(fs.existsSync(path.join(dir, 'junk-fit.mp4'))).toBe(false);
  });
});
