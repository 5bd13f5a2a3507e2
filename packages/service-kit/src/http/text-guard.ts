/// <reference lib="es2024.string" />
import { isUtf8 } from 'node:buffer';
import type { App } from './app.ts';
import { HttpError } from './envelope.ts';

/**
 * Text the database cannot store, refused at the door with a 400 naming the field instead of failing there (500) or
 * being silently rewritten to U+FFFD: U+0000, unpaired UTF-16 surrogates, and request bodies that are not UTF-8.
 * Why and what each driver would do otherwise: docs/aths.md ("Text the services refuse").
 */
const TEXT_PROBLEMS = {
  nul: 'must not contain the NUL character (\\u0000)',
  surrogate: 'must not contain unpaired surrogate characters (\\uD800-\\uDFFF)',
} as const;
export type TextProblem = keyof typeof TEXT_PROBLEMS;

export interface TextProblemAt {
  /** Keys from the root to the string; for a bad key, the object that holds it. */
  path: string[];
  problem: TextProblem;
  /** The problem is in a key, not a value. */
  inKey: boolean;
}

function problemOf(text: string): TextProblem | undefined {
  if (text.includes('\u0000')) return 'nul';
  return text.isWellFormed() ? undefined : 'surrogate';
}

/** Where the first string (or key) holding U+0000 or a lone surrogate is in a parsed value; walks at most 100,000 nodes. */
function unstorableTextAt(value: unknown): TextProblemAt | undefined {
  interface Node {
    value: unknown;
    key: string | undefined;
    parent: Node | undefined;
  }
  const pathOf = (node: Node) => {
    const path: string[] = [];
    for (let at: Node | undefined = node; at && at.key !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  const stack: Node[] = [{ value, key: undefined, parent: undefined }];
  for (let visited = 0; stack.length > 0 && visited < 100_000; visited++) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      const problem = problemOf(node.value);
      if (problem) return { path: pathOf(node), problem, inKey: false };
    } else if (node.value !== null && typeof node.value === 'object') {
      for (const [key, child] of Object.entries(node.value)) {
        const problem = problemOf(key);
        if (problem) return { path: pathOf(node), problem, inKey: true };
        stack.push({ value: child, key, parent: node });
      }
    }
  }
  return undefined;
}

// JSON text can carry U+0000 or a surrogate only as an escape (\u0000, \uD800–\uDFFF): a body without one needs no walk.
const SUSPECT_JSON_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;
// A URL from the network is ASCII and its percent-decoding refuses ill-formed UTF-8: only %00 can decode to bad text;
// a raw NUL or surrogate can come only from an in-process caller (inject).
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const SUSPECT_URL = /%00|[\u0000\uD800-\uDFFF]/;

function refuse(location: 'path' | 'query' | 'body', value: unknown): void {
  const found = unstorableTextAt(value);
  if (found === undefined) return;
  const field = [location, ...found.path].join(' -> ');
  const message = found.inKey ? `keys ${TEXT_PROBLEMS[found.problem]}` : TEXT_PROBLEMS[found.problem];
  throw new HttpError(400, 'Validation failed', [{ field, message }]);
}

interface TextFlags {
  plainTextBody: boolean;
}

/**
 * Replaces the JSON parser by Fastify's own (same limits, errors and prototype-poisoning refusal) behind a UTF-8 check
 * of the raw bytes, and refuses unstorable text in path, query and body before validation. Ordinary requests pay one
 * native UTF-8 check and two substring scans; only a suspect URL or body is walked.
 */
export function installTextGuard(app: App): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.decorateRequest('plainTextBody', false);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    // The decoder would turn invalid bytes into U+FFFD, so that different passwords or names would become equal.
    if (!isUtf8(raw as Buffer)) {
      done(new HttpError(400, 'Request body is not valid UTF-8', [{ field: 'body', message: 'must be encoded as UTF-8' }]));
      return;
    }
    const text = (raw as Buffer).toString('utf8');
    (request as unknown as TextFlags).plainTextBody = !(text.includes('\\u') && SUSPECT_JSON_ESCAPE.test(text));
    void parseJson(request, text, done); // answers through done
  });

  // Per-request hook in callback style: no promise per request on the hot path.
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      if (SUSPECT_URL.test(request.url)) {
        refuse('path', request.params);
        refuse('query', request.query);
      }
      if (request.body !== undefined && !(request as unknown as TextFlags).plainTextBody) refuse('body', request.body);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}
