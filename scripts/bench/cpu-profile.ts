/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) over a time window: the
 * functions with the most self time, and the share of the busy time that went
 * to each part of the stack a reader cares about (discord.js parsing, our
 * validation, SQLite, logging, the HTTP client, …).
 */

/** The parts of a `.cpuprofile` file this reads (Chrome DevTools protocol `Profiler.Profile`). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    children?: number[];
  }[];
  /** Microseconds on the system's monotonic clock (the clock of `process.hrtime`). */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  name: string;
  ms: number;
  /** Of the busy (non-idle) time in the window. */
  share: number;
}

export interface ProfileSummary {
  /** Wall time the window covers, in ms. */
  windowMs: number;
  /** Time the main thread was not idle, in ms (each sample capped at `maxSampleUs`). */
  busyMs: number;
  samples: number;
  /** By category, largest first; the shares add up to 1. */
  categories: ProfileShare[];
  /** Functions by self time, largest first. */
  top: (ProfileShare & { where: string; category: string })[];
  /** Time with the asked-for functions on the stack (their synchronous parts, callees included), in the asked order. */
  inclusive: ProfileShare[];
}

/** A function to report inclusive time for: its name in the profile and a test on its file. */
export interface FrameMatch {
  label: string;
  fn: string;
  url: RegExp;
}

/**
 * Categories, tried from the sampled frame up towards the root: the first
 * frame that matches one decides. So JSON.parse (a native frame, no URL) run
 * by @discordjs/ws counts as gateway parsing, and a statement's native `run`
 * called from src/db counts as SQLite.
 */
export const CATEGORIES: readonly { name: string; url: RegExp; fn?: RegExp }[] = [
  // Every new TCP connection (one per concurrent request the HTTP client has no idle connection for).
  {
    name: 'opening connections (node:net connect)',
    url: /^node:net$/,
    fn: /^(internalConnect|afterConnect|lookupAndConnect|connect|_connect)$/,
  },
  {
    name: 'logging (pino)',
    url: /node_modules\/(pino|pino-std-serializers|sonic-boom|fast-redact|thread-stream|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify|@pinojs)\/|\/src\/logger\.[jt]s$/,
  },
  { name: 'SQLite (better-sqlite3, src/db)', url: /node_modules\/better-sqlite3\/|\/src\/db\// },
  {
    name: 'our validation (sora-request, capabilities, settings)',
    url: /\/src\/services\/(sora-request|capabilities|settings)\.[jt]s$|node_modules\/zod\//,
  },
  // The client's REST (interactions) sends JSON through @discordjs/rest's own undici 6 (its default
  // strategy), multipart and the bot's channel routes through fetch (Node's bundled undici).
  {
    name: 'HTTP to Discord (undici 6 of @discordjs/rest, fetch)',
    url: /^node:internal\/deps\/undici\/|node_modules\/@discordjs\/rest\/node_modules\/undici\//,
  },
  {
    name: 'HTTP to Tuzi (undici 7, src/services/tuzi)',
    url: /(?<!@discordjs\/rest\/)node_modules\/undici\/|\/src\/services\/tuzi\//,
  },
  { name: 'discord.js REST queue (@discordjs/rest)', url: /node_modules\/@discordjs\/rest\// },
  {
    name: 'discord.js gateway, actions, structures',
    url: /node_modules\/(discord\.js|@discordjs\/(ws|collection|util|formatters|builders)|ws|@sapphire\/[^/]+|@vladfrangu\/[^/]+|discord-api-types|lodash\.snakecase|magic-bytes\.js|tslib)\//,
  },
  { name: 'bench probe (ack-probe)', url: /\/scripts\/bench\/ack-probe\.[jt]s$/ },
  { name: 'our other code (router, jobs, rendering, i18n)', url: /\/src\/|\/scripts\/bench\/baseline-bot\.[jt]s$/ },
];
const GC = 'garbage collector';
const PROGRAM = 'V8 / native, unattributed ("(program)")';
const OTHER = 'other (Node internals: sockets, streams, timers)';

/** One profile and the part of it to count (all of it when no bounds are given). */
export interface ProfileWindow {
  profile: CpuProfile;
  fromUs?: number;
  toUs?: number;
}

/**
 * Self time per function and per category of the samples taken inside the
 * windows, added up over all of them (several runs of the same bench).
 */
export function summariseProfiles(
  windows: readonly ProfileWindow[],
  options: {
    root?: string;
    top?: number;
    inclusive?: readonly FrameMatch[];
    /**
     * The most time one sample may stand for. On a busy machine the process
     * is descheduled between samples, and the next sample would take the
     * whole gap; a cap of a few sampling intervals counts CPU time, not the wait.
     */
    maxSampleUs?: number;
  } = {},
): ProfileSummary {
  const cap = options.maxSampleUs ?? Infinity;
  const wanted = options.inclusive ?? [];
  const inclusiveUs = wanted.map(() => 0);
  const root = options.root ? `file://${options.root.replace(/\/$/, '')}/` : undefined;
  const place = (url: string, line: number) => {
    if (url === '') return 'native';
    const short = root && url.startsWith(root) ? url.slice(root.length) : url;
    return `${short}:${line + 1}`;
  };
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, { name: string; where: string; category: string; us: number }>();
  let windowUs = 0;
  let busyUs = 0;
  let counted = 0;

  for (const { profile, fromUs = profile.startTime, toUs = profile.endTime } of windows) {
    windowUs += toUs - fromUs;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    // Which of the wanted functions each node has on its stack (itself or an ancestor).
    const matchesOf = new Map<number, number[]>();
    const matches = (id: number): number[] => {
      const known = matchesOf.get(id);
      if (known) return known;
      const frame = nodes.get(id)!.callFrame;
      const up = parent.get(id);
      const above = up === undefined ? [] : matches(up);
      const own = wanted.flatMap((m, k) => (m.fn === frame.functionName && m.url.test(frame.url) ? [k] : []));
      const result = own.length === 0 ? above : [...new Set([...above, ...own])];
      matchesOf.set(id, result);
      return result;
    };
    const categoryOf = new Map<number, string>();
    const categorise = (id: number): string => {
      const known = categoryOf.get(id);
      if (known !== undefined) return known;
      const frame = nodes.get(id)!.callFrame;
      let found: string | undefined;
      if (frame.functionName === '(garbage collector)') found = GC;
      else if (frame.functionName === '(program)') found = PROGRAM;
      else
        found = CATEGORIES.find(
          (c) => frame.url !== '' && c.url.test(frame.url) && (!c.fn || c.fn.test(frame.functionName)),
        )?.name;
      const up = parent.get(id);
      const result = found ?? (up === undefined ? OTHER : categorise(up));
      categoryOf.set(id, result);
      return result;
    };
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i] ?? 0;
      if (t < fromUs || t > toUs) continue;
      // A sample stands for the time until the next one.
      const us = Math.min(cap, profile.timeDeltas[i + 1] ?? 0);
      const id = profile.samples[i]!;
      const frame = nodes.get(id)!.callFrame;
      if (frame.functionName === '(idle)') continue;
      counted++;
      busyUs += us;
      const category = categorise(id);
      byCategory.set(category, (byCategory.get(category) ?? 0) + us);
      for (const k of matches(id)) inclusiveUs[k]! += us;
      const where = place(frame.url, frame.lineNumber);
      const key = `${frame.functionName}@${where}`;
      const entry = byFunction.get(key) ?? { name: frame.functionName || '(anonymous)', where, category, us: 0 };
      entry.us += us;
      byFunction.set(key, entry);
    }
  }
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  return {
    windowMs: windowUs / 1000,
    busyMs: busyUs / 1000,
    samples: counted,
    categories: [...byCategory]
      .map(([name, us]) => ({ name, ms: us / 1000, share: share(us) }))
      .sort((a, b) => b.ms - a.ms),
    top: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, options.top ?? 12)
      .map((f) => ({ name: f.name, where: f.where, category: f.category, ms: f.us / 1000, share: share(f.us) })),
    inclusive: wanted.map((m, k) => ({ name: m.label, ms: inclusiveUs[k]! / 1000, share: share(inclusiveUs[k]!) })),
  };
}
