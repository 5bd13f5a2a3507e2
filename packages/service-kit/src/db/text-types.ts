import type { ParserOptions } from '@electric-sql/pglite';
import type pg from 'pg';

/**
 * The result types drizzle reads as raw text and decodes itself (timestamp, timestamptz, interval, date, and the
 * arrays numeric[], timestamp[], timestamptz[], interval[], date[]): what both drivers' sessions in drizzle-orm set.
 */
const DRIZZLE_TEXT_TYPES: readonly number[] = [1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182];

const asText = (value: string) => value;

/** For `PGlite.create({ parsers })`: a plain `query()` then reads those types as drizzle's queries do. */
export const pgliteTextParsers: ParserOptions = Object.fromEntries(DRIZZLE_TEXT_TYPES.map((oid) => [oid, asText]));

/** For node-postgres's per-query `types` option: the same types as text, the others as pg parses them. */
export function pgTextTypes(types: typeof pg.types) {
  return {
    getTypeParser: (oid: number, format?: string) =>
      DRIZZLE_TEXT_TYPES.includes(oid) ? asText : (types.getTypeParser(oid, format as 'text') as (value: string) => unknown),
  };
}
