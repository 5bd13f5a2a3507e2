import pino from 'pino';
import { loggerOptions } from '../observability/logger.ts';

/** A service's real logger (the kit's options) writing its JSON lines into memory, and the secrets a test plants in them. */
export function logCapture(service: string) {
  const lines: string[] = [];
  const secrets: string[] = [];
  return {
    logger: pino(loggerOptions({ service, level: 'info', pretty: false }), { write: (line: string) => void lines.push(line) }),
    lines,
    /** Every value that must appear in no line. */
    secrets,
    /** A value no other test uses, starting with `label`, added to `secrets`. */
    secret: (label: string): string => {
      const value = `${label}${Math.random().toString(36).slice(2, 12)}`;
      secrets.push(value);
      return value;
    },
    text: () => lines.join('\n'),
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown> & { err?: Record<string, unknown> }),
  };
}
