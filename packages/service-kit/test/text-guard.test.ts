import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildServer, createLogger, createMetricsRegistry, ok, PERSON_NAME_MESSAGE, personNameSchema, type App } from '../src/index.ts';

let app: App;
let port: number;

beforeAll(async () => {
  app = await buildServer({
    service: 'kit-text',
    version: '0.0.0',
    description: 'test',
    logger: createLogger({ service: 'kit-text', level: 'silent', pretty: false }),
    metrics: createMetricsRegistry('kit-text'),
    readiness: {},
  });
  // Echoes what it was given: a rewritten value would show up here.
  app.post('/echo/:id', async (request) => ok('Echo', { params: request.params, query: request.query, body: request.body }));
  app.post('/names', { schema: { body: z.object({ name: personNameSchema }) } }, async (request) => ok('Name', { name: request.body.name }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => app.close());

const SURROGATE = 'must not contain unpaired surrogate characters (\\uD800-\\uDFFF)';

/** The raw bytes on a real connection (inject would re-encode a string as UTF-8 first). */
function postBytes(path: string, body: Buffer): Promise<{ status: number; json: { success: boolean; message: string; errors?: unknown[]; data?: unknown } }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const postJson = (url: string, payload: string) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

describe('text the database cannot store is refused, never rewritten', () => {
  it('answers 400 naming the field for a lone surrogate anywhere in a JSON body', async () => {
    const cases: Array<[string, string]> = [
      ['{"name":"Sur \\ud800 Name"}', 'body -> name'],
      ['{"address":{"city":"x\\uDFFF"}}', 'body -> address -> city'],
      ['{"list":["ok","\\udc00\\ud800"]}', 'body -> list -> 1'],
      ['{"deep":{"a":[{"b":"\\uDBFF"}]}}', 'body -> deep -> a -> 0 -> b'],
      ['"\\ud800"', 'body'],
    ];
    for (const [payload, field] of cases) {
      const res = await postJson('/echo/1', payload);
      expect(res.statusCode, payload).toBe(400);
      expect(res.json(), payload).toEqual({ success: false, message: 'Validation failed', errors: [{ field, message: SURROGATE }] });
    }
  });

  it('names the object holding a bad key rather than echoing the key', async () => {
    const surrogateKey = await postJson('/echo/1', '{"prefs":{"k\\ud800":1}}');
    expect(surrogateKey.statusCode).toBe(400);
    expect(surrogateKey.json().errors).toEqual([{ field: 'body -> prefs', message: `keys ${SURROGATE}` }]);
    const nulKey = await postJson('/echo/1', '{"address":{"ci\\u0000ty":"x"}}');
    expect(nulKey.json().errors).toEqual([{ field: 'body -> address', message: 'keys must not contain the NUL character (\\u0000)' }]);
  });

  it('lets paired surrogates through, escaped or not, and escaped backslashes that only look like escapes', async () => {
    const res = await postJson('/echo/1', '{"a":"\\ud83d\\ude00","b":"😀","c":"\\\\ud800","d":"\\uD7FF\\uE000"}');
    expect(res.statusCode).toBe(200);
    expect(res.json().data.body).toEqual({ a: '😀', b: '😀', c: '\\ud800', d: '\uD7FF\uE000' });
  });

  it('refuses a body that is not UTF-8 instead of decoding it to U+FFFD', async () => {
    const json = (bytes: number[]) => Buffer.concat([Buffer.from('{"password":"Secret12'), Buffer.from(bytes), Buffer.from('"}')]);
    for (const bytes of [[0xff], [0xfe], [0xed, 0xa0, 0x80] /* a surrogate written as UTF-8 (CESU-8) */, [0xc3] /* truncated */, [0xc0, 0xaf] /* overlong */]) {
      const res = await postBytes('/echo/1', json(bytes));
      expect(res.status, bytes.join(',')).toBe(400);
      expect(res.json).toEqual({ success: false, message: 'Request body is not valid UTF-8', errors: [{ field: 'body', message: 'must be encoded as UTF-8' }] });
    }
    // U+FFFD itself, sent as valid UTF-8, is just a character.
    const replacement = await postBytes('/echo/1', json([0xef, 0xbf, 0xbd]));
    expect(replacement.status).toBe(200);
    expect(replacement.json.data).toMatchObject({ body: { password: 'Secret12\ufffd' } });
    const multiByte = await postBytes('/echo/1', Buffer.from('{"name":"Zoë 李 😀"}'));
    expect(multiByte.json.data).toMatchObject({ body: { name: 'Zoë 李 😀' } });
  });

  it('in the URL: a percent-encoded surrogate is a 400 in the path and stays literal text in the query', async () => {
    const path = await postJson('/echo/a%ED%A0%80b', '{}');
    expect(path.statusCode).toBe(400);
    expect(path.json().errors).toEqual([{ field: 'path', message: 'The URL is not valid' }]);
    const query = await postJson('/echo/1?q=%ED%A0%80&r=%FF', '{}');
    expect(query.statusCode).toBe(200);
    expect(query.json().data.query).toEqual({ q: '%ED%A0%80', r: '%FF' });
    const nul = await postJson('/echo/1?q=a%00b', '{}');
    expect(nul.json().errors).toEqual([{ field: 'query -> q', message: 'must not contain the NUL character (\\u0000)' }]);
  });
});

describe('the name rule (personNameSchema)', () => {
  const name = (value: string) => app.inject({ method: 'POST', url: '/names', payload: { name: value } });

  it('refuses control characters, line and paragraph separators and invisible format characters', async () => {
    const refused = {
      LF: 'Ada\nLovelace',
      CRLF: 'Ada\r\nClick here',
      'trailing LF': 'Ada Lovelace\n',
      TAB: 'Ada\tLovelace',
      NEL: 'Ada\u0085Lovelace',
      DEL: 'Ada\u007fLovelace',
      'line separator': 'Ada\u2028Lovelace',
      'paragraph separator': 'Ada\u2029Lovelace',
      'right-to-left override': 'Ada \u202eecalevoL',
      'left-to-right isolate': 'Ada \u2066Lovelace\u2069',
      'right-to-left mark': 'Ada\u200fLovelace',
      'zero-width space': 'Ada\u200bLovelace',
      'word joiner': 'Ada\u2060Lovelace',
      'byte order mark': '\ufeffAda Lovelace',
      'soft hyphen': 'Ada Love\u00adlace',
      'tag character': 'Ada\u{E0041}Lovelace',
    };
    for (const [what, value] of Object.entries(refused)) {
      const res = await name(value);
      expect(res.statusCode, what).toBe(400);
      expect(res.json().errors, what).toEqual([{ field: 'body -> name', message: PERSON_NAME_MESSAGE }]);
    }
  });

  it('accepts names of every script, with apostrophes, hyphens, accents, dots and the joiners scripts need', async () => {
    const accepted = [
      "Zoë O'Brien-Łukasiewicz",
      'Mary-Kate O’Neil Jr.',
      'José María Aznar',
      'Zoe\u0308 (combining diaeresis)',
      'Nguyễn Thị Minh Khai',
      '李小龙',
      '山田 太郎',
      '김민준',
      'Αλέξανδρος',
      'Владимир Набоков',
      'محمد بن سلمان',
      'דוד בן־גוריון',
      'अनुज कुमार',
      'می\u200cخواهم', // Persian needs the zero-width non-joiner
      'ക്\u200dഷ Kumar', // Malayalam chillu written with the zero-width joiner
      'Ada\u00a0Lovelace', // no-break space
      'Astronaut 👩\u200d🚀',
    ];
    for (const value of accepted) {
      const res = await name(value);
      expect(res.statusCode, value).toBe(200);
      expect(res.json().data.name, value).toBe(value);
    }
    const trimmed = await name('  Ada Lovelace  ');
    expect(trimmed.json().data.name).toBe('Ada Lovelace');
  });
});
