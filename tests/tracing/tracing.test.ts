/**
 * Issue 14: one trace from the registration to the CRMS record, across the outbox. ATHS and CRMS run as real
 * processes exporting to this test's own OTLP/HTTP receiver (http/protobuf on PGlite, http/json on PostgreSQL, so
 * both encodings are decoded and checked), with the fault proxy between them.
 */
import { testDatabaseDrivers, uniqueEmail, waitFor } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { PASSWORD } from '../support/system.ts';

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

describe.each(testDatabaseDrivers())('tracing across the outbox, on %s', (driver) => {
  const protocol = driver === 'pglite' ? 'http/protobuf' : 'http/json';
  let receiver: OtlpReceiver;
  let cluster: Cluster;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_BSP_SCHEDULE_DELAY: '100' };
    cluster = await startCluster({
      driver,
      label: 'tracing',
      faults: { failureRate: 0 },
      captureOutput: true,
      athsEnv: { ...otel, LOG_LEVEL: 'info', PROVISIONING_BACKOFF_BASE_MS: '200', PROVISIONING_BACKOFF_MAX_MS: '400', PROVISIONING_PROBE_INTERVAL_MS: '300' },
      crmsEnv: otel,
    });
  }, 150_000);

  afterAll(async () => {
    await cluster?.stop();
    await receiver?.close();
  });

  async function register(): Promise<{ userId: string; ms: number }> {
    const started = performance.now();
    const response = await cluster.athsHttp!.json<{ data: { user: { _id: string } } }>('POST', '/api/auth/register', {
      email: uniqueEmail('trace'),
      password: PASSWORD,
      fullName: 'Traced Customer',
      contactNumber: '0123456789',
    });
    expect(response.status).toBe(201);
    return { userId: response.body.data.user._id, ms: performance.now() - started };
  }

  /** The trace of a registration: found through its transaction span, which carries the user id. */
  async function traceOf(userId: string): Promise<string> {
    let found: ReceivedSpan | undefined;
    await waitFor(() => (found = receiver.spans.find((span) => span.attributes['user.id'] === userId)) !== undefined, 15_000, 'the registration transaction span');
    return found!.traceId;
  }

  function one(spans: ReceivedSpan[], what: string, match: (span: ReceivedSpan) => boolean): ReceivedSpan {
    const matching = spans.filter(match);
    expect(matching, what).toHaveLength(1);
    return matching[0]!;
  }

  const attempts = (spans: ReceivedSpan[]) =>
    spans.filter((span) => span.name === 'outbox deliver customer.create').sort((a, b) => Number(a.attributes['outbox.attempt']) - Number(b.attributes['outbox.attempt']));

  /** The delivered attempt's subtree: CRMS's create request span under it, and the insert under that. */
  function expectDeliveredToCrms(spans: ReceivedSpan[], delivered: ReceivedSpan): void {
    expect(delivered.attributes['outbox.outcome']).toBe('delivered');
    expect(delivered.attributes['http.response.status_code']).toBe(200);
    const create = one(spans, 'CRMS create span', (span) => span.service === 'crms' && span.name === 'POST /api/customers/internal/create');
    expect(create.kind).toBe(SERVER);
    expect(create.parentSpanId).toBe(delivered.spanId);
    expect(create.attributes['http.response.status_code']).toBe(200);
    const insert = one(spans, 'CRMS insert span', (span) => span.service === 'crms' && span.name === 'INSERT customers');
    expect(insert.kind).toBe(CLIENT);
    expect(insert.parentSpanId).toBe(create.spanId);
    expect(insert.attributes['db.statement.name']).toBe('crms_insert_customer_if_absent');
    expect(insert.attributes['db.system.name']).toBe('postgresql');
  }

  it('one trace covers the register request, its transaction, the delivery attempt and CRMS\'s create and insert', { timeout: 60_000 }, async () => {
    const { userId } = await register();
    const traceId = await traceOf(userId);
    await waitFor(() => receiver.trace(traceId).some((span) => span.name === 'INSERT customers'), 15_000, 'CRMS spans');
    await waitFor(() => attempts(receiver.trace(traceId)).length > 0, 15_000, 'the attempt span');
    const spans = receiver.trace(traceId);

    const request = one(spans, 'ATHS register span', (span) => span.service === 'aths' && span.name === 'POST /api/auth/register');
    expect(request.kind).toBe(SERVER);
    expect(request.parentSpanId).toBe('');
    expect(request.attributes['http.route']).toBe('/api/auth/register');
    expect(request.attributes['http.response.status_code']).toBe(201);
    const transaction = one(spans, 'transaction span', (span) => span.name === 'registration transaction');
    expect(transaction.parentSpanId).toBe(request.spanId);

    const [attempt, ...more] = attempts(spans);
    expect(more).toEqual([]);
    expect(attempt!.service).toBe('aths');
    expect(attempt!.kind).toBe(CLIENT);
    expect(attempt!.parentSpanId).toBe(transaction.spanId);
    expect(attempt!.links).toEqual([{ traceId, spanId: transaction.spanId }]);
    expect(attempt!.attributes['outbox.attempt']).toBe(1);
    expectDeliveredToCrms(spans, attempt!);
    // The attempt's outcome is written inside it; the worker's claims, which serve many messages, are in no trace.
    const outcome = one(spans, 'outcome statement span', (span) => span.service === 'aths' && span.name === 'UPDATE customer_outbox');
    expect(outcome.kind).toBe(CLIENT);
    expect(outcome.parentSpanId).toBe(attempt!.spanId);
    expect(outcome.attributes['db.system.name']).toBe('postgresql');
    expect(receiver.spans.filter((span) => span.name.startsWith('WITH '))).toEqual([]);

    // The attempt's log line leads to the trace.
    const line = cluster.aths!.logs().split('\n').find((text) => text.includes('"outbox delivery attempt"') && text.includes(userId));
    expect(JSON.parse(line!)).toMatchObject({ trace_id: traceId, span_id: attempt!.spanId, outcome: 'delivered' });
    expect(receiver.requests.get(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf')).toBeGreaterThan(0);
  });

  it('with CRMS down for a while, the later successful attempt is in the registration\'s trace', { timeout: 60_000 }, async () => {
    await cluster.proxy!.set({ kind: 'down' });
    const { userId } = await register();
    const traceId = await traceOf(userId);
    await waitFor(() => attempts(receiver.trace(traceId)).length >= 2, 15_000, 'two failed attempts');
    await cluster.proxy!.set({ kind: 'pass' });
    await waitFor(() => attempts(receiver.trace(traceId)).some((span) => span.attributes['outbox.outcome'] === 'delivered'), 15_000, 'the delivered attempt');
    await waitFor(() => receiver.trace(traceId).some((span) => span.name === 'INSERT customers'), 10_000, 'CRMS spans');

    const spans = receiver.trace(traceId);
    const all = attempts(spans);
    const transaction = one(spans, 'transaction span', (span) => span.name === 'registration transaction');
    expect(all.map((span) => span.attributes['outbox.attempt'])).toEqual(all.map((_, index) => index + 1));
    for (const failed of all.slice(0, -1)) {
      expect(failed.attributes['outbox.outcome']).toBe('retry');
      expect(failed.statusCode).toBe(ERROR);
      expect(Date.parse(String(failed.attributes['outbox.next_attempt_at']))).toBeGreaterThan(0);
      expect(failed.parentSpanId).toBe(transaction.spanId);
    }
    const delivered = all.at(-1)!;
    expect(delivered.parentSpanId).toBe(transaction.spanId);
    expectDeliveredToCrms(spans, delivered);
  });

  it('with the receiver down, registrations are unaffected and still reach CRMS', { timeout: 60_000 }, async () => {
    const baseline = await register();
    await receiver.close();
    const during = [];
    for (let index = 0; index < 5; index++) during.push(await register());
    // Exporting happens in the background: no registration waits for the closed port.
    expect(Math.max(...during.map((entry) => entry.ms))).toBeLessThan(Math.max(2_000, baseline.ms * 10));
    for (const { userId } of during) {
      await waitFor(
        async () => (await cluster.crmsHttp.json('GET', `/api/customers/internal/user/${userId}`, undefined, { 'x-api-key': cluster.crmsKey })).status === 200,
        15_000,
        `the CRMS record of ${userId}`,
      );
    }
    await receiver.listen();
  });
});
