import pino, { type LogFn, type Logger, type LoggerOptions } from 'pino';
import { errorForLog, messageForLog, requestForLog, textForLog } from './log-redaction.ts';
import { traceLogFields } from './tracing.ts';

export { errorForLog, messageForLog, requestForLog, textForLog, urlForLog } from './log-redaction.ts';

/** Anything that could carry a secret is censored wherever it appears in a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-service-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-service-api-key"]',
  'password',
  'newPassword',
  'currentPassword',
  'confirmPassword',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.apiKey',
];

/**
 * Every log call passes here: a message that is an error's own (pino's default for `log.error(err)`, Fastify's
 * `log.error({ err }, err.message)`) becomes the error's safe message, and URLs in messages lose their query values.
 */
function logMethod(this: Logger, args: unknown[], method: LogFn): void {
  const [first, second] = args;
  const error = first instanceof Error ? first : (first as { err?: unknown } | null)?.err;
  if (error instanceof Error && (second === undefined || second === error.message)) {
    args = [first, messageForLog(error), ...args.slice(2)];
  }
  for (let index = 0; index < args.length; index++) {
    const value = args[index];
    if (typeof value === 'string' && value.includes('?')) args[index] = textForLog(value);
  }
  Reflect.apply(method, this, args);
}

export interface LoggerSettings {
  service: string;
  level: string;
  /** Pretty output for people; JSON otherwise. Defaults to whether stdout is a terminal. */
  pretty?: boolean;
}

export function loggerOptions(settings: LoggerSettings): LoggerOptions {
  const pretty = settings.pretty ?? Boolean(process.stdout.isTTY);
  return {
    level: settings.level,
    base: { service: settings.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Fastify's own `req` and `err` serializers give way to these (its child loggers keep the parent's).
    serializers: { err: errorForLog, req: requestForLog },
    hooks: { logMethod },
    // trace_id and span_id of the active span, while tracing is on.
    mixin: traceLogFields,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  };
}

let prettyDestination: pino.DestinationStream | undefined;

export function createLogger(settings: LoggerSettings): Logger {
  const { transport, ...options } = loggerOptions(settings);
  if (!transport) return pino(options);
  // One pretty-printing worker thread per process, however many services log through it (npm start runs two).
  prettyDestination ??= pino.transport(transport as pino.TransportSingleOptions);
  return pino(options, prettyDestination);
}

/** Whether a request's `request completed` line is written (its logger at info or lower), read from the level numbers. */
export function writesRequestLine(logger: Logger): (requestLevel: string) => boolean {
  const levels = logger.levels.values;
  const info = levels.info!;
  return (requestLevel) => (levels[requestLevel] ?? Infinity) <= info;
}

export type { Logger };
