import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolveBinaries } from '../../src/services/reencode.js';

export { bigVideo } from '../../emulators/video-fixture.js';

const run = promisify(execFile);

/** The ffmpeg and ffprobe npm installed; the tests that need them fail loudly without them. */
export function binaries() {
  const found = resolveBinaries();
  if (!found)
    throw new Error('ffmpeg/ffprobe are not installed (npm ci installs @ffmpeg-installer and @ffprobe-installer)');
  return found;
}

export interface Probed {
  formatName: string;
  durationS: number;
  streams: { codecType: string; codecName: string; width?: number; height?: number }[];
}

/** What ffprobe itself says about a file (not the bot's reading of it). */
export async function ffprobe(file: string): Promise<Probed> {
  const { stdout } = await run(binaries().ffprobe, [
    ...['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file],
  ]);
  const data = JSON.parse(stdout) as {
    format: { format_name: string; duration: string };
    streams: { codec_type: string; codec_name: string; width?: number; height?: number }[];
  };
  return {
    formatName: data.format.format_name,
    durationS: Number(data.format.duration),
    streams: data.streams.map((s) => ({
      codecType: s.codec_type,
      codecName: s.codec_name,
      ...(s.width !== undefined ? { width: s.width, height: s.height } : {}),
    })),
  };
}
