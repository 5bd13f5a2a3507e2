import pino, { type Logger, type LoggerOptions } from 'pino';

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

const SECRET_QUERY_VALUE = /([?&](?:token|resetToken|accessToken|refreshToken|apiKey)=)[^&#]*/gi;

/** A request URL for the log, with the values of query parameters that carry secrets (a mailed link's token) censored. */
export function urlForLog(url: string): string {
  return url.includes('?') ? url.replace(SECRET_QUERY_VALUE, '$1[redacted]') : url;
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
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  };
}

export function createLogger(settings: LoggerSettings): Logger {
  return pino(loggerOptions(settings));
}

export type { Logger };
