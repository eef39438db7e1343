import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level: LogLevel;
  /** Secret values (the Discord token, the Tuzi key) that must never be written. */
  secrets: readonly string[];
  /** Where lines go; stdout when omitted. */
  destination?: DestinationStream;
}

const REDACTED = '[REDACTED]';

/**
 * Interaction tokens travel in webhook and callback URLs; anyone holding one
 * can post as the bot for 15 minutes, so they are masked too.
 */
const URL_TOKEN_PATTERN = /\/(webhooks\/\d+|interactions\/\d+)\/[A-Za-z0-9._%~-]{20,}/g;

/**
 * A pino logger that redacts by value as well as by path. Paths catch the
 * usual places (headers, tokens); the value pass runs on every finished line,
 * so a secret is masked wherever it ends up: in a library error's message, a
 * request object, a stack trace, or a field nobody thought of.
 */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets.filter((s) => s.length >= 4);
  // A secret may appear raw or JSON-escaped inside the serialized line.
  const needles = [...new Set(secrets.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))].sort(
    (a, b) => b.length - a.length,
  );
  const scrub = (line: string): string => {
    let out = line;
    for (const needle of needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out.replace(URL_TOKEN_PATTERN, `/$1/${REDACTED}`);
  };
  return pino(
    {
      level: options.level,
      base: undefined,
      redact: {
        paths: [
          'token',
          '*.token',
          'authorization',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
          '*.headers.Authorization',
          'apiKey',
          '*.apiKey',
        ],
        censor: REDACTED,
      },
      hooks: { streamWrite: scrub },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
