import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { buildServer, createMetricsRegistry, loggerOptions, ok, type App } from '../src/index.ts';

describe('the request log line', () => {
  const lines: Array<Record<string, unknown>> = [];
  let app: App;

  beforeAll(async () => {
    const logger = pino(loggerOptions({ service: 'kit-test', level: 'info', pretty: false }), {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    app = await buildServer({ service: 'kit-test', version: '0.0.0', description: 'test', logger, metrics: createMetricsRegistry('kit-test'), readiness: {} });
    app.get('/link', async () => ok('Opened'));
    await app.ready();
  });
  afterAll(async () => app.close());

  it('censors the values of every query parameter (a mailed link\'s token among them), keeping their names', async () => {
    const res = await app.inject({ method: 'GET', url: '/link?page=2&token=mailed-secret-1&refreshToken=r-secret-2&TOKEN=x#frag' });
    expect(res.statusCode).toBe(200);
    const line = lines.find((entry) => entry.msg === 'request completed' && String(entry.url).startsWith('/link'));
    expect(line?.url).toBe('/link?page=[redacted]&token=[redacted]&refreshToken=[redacted]&TOKEN=[redacted]');
    expect(JSON.stringify(lines)).not.toMatch(/mailed-secret-1|r-secret-2/);
  });
});
