import { types, type PGlite, type QueryOptions } from '@electric-sql/pglite';

/**
 * The result types drizzle-orm's PGlite driver reads as raw text and maps itself (timestamp, timestamptz, interval,
 * date, and the arrays numeric[], timestamp[], timestamptz[], interval[], date[]), as listed in
 * drizzle-orm/pglite/session.js.
 */
const DRIZZLE_RAW_TEXT_TYPES: readonly number[] = [
  types.TIMESTAMP,
  types.TIMESTAMPTZ,
  types.INTERVAL,
  types.DATE,
  1231,
  1115,
  1185,
  1187,
  1182,
];

const rawText = (value: string) => value;

type Queryable = { query(text: string, params?: unknown[], options?: QueryOptions): Promise<unknown> };

/**
 * drizzle's PGlite driver hands those parsers to every query, and PGlite answers a query that brings its own parsers
 * by copying its whole table of some 320 type parsers into a new object first: a CPU profile of CRMS's internal
 * create put that copy at about 4 % of the process's CPU (plus the garbage it leaves).
 *
 * Installing the same parsers on the instance once and leaving them out of each query gives every query exactly the
 * values drizzle asked for, without the copy. Applies to queries run inside transactions too. Only for a PGlite
 * instance used through drizzle: a raw query on it reads those types as text as well.
 */
export function installDrizzleParsers(client: PGlite): PGlite {
  for (const oid of DRIZZLE_RAW_TEXT_TYPES) client.parsers[oid] = rawText;
  withoutPerQueryParsers(client);
  const transaction = client.transaction.bind(client);
  client.transaction = (callback) => transaction((tx) => callback(withoutPerQueryParsers(tx)));
  return client;
}

// drizzle passes the same options object for every run of a statement: each is stripped once, for the instance and
// its transactions alike.
const stripped = new WeakMap<object, QueryOptions>();

function withoutPerQueryParsers<T extends Queryable>(target: T): T {
  const query = target.query.bind(target);
  target.query = ((text: string, params?: unknown[], options?: QueryOptions) => {
    if (options?.parsers === undefined) return query(text, params, options);
    let lean = stripped.get(options);
    if (lean === undefined) {
      const { parsers: _dropped, ...rest } = options;
      lean = rest;
      stripped.set(options, lean);
    }
    return query(text, params, lean);
  }) as T['query'];
  return target;
}
