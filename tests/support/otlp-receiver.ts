/**
 * A small OTLP/HTTP trace receiver (POST /v1/traces) for tests and the bench: it accepts both encodings the services
 * export, http/json and http/protobuf, and keeps every span it receives, decoded to one flat shape. The protobuf
 * reader follows the field numbers of the official opentelemetry-proto messages (ExportTraceServiceRequest,
 * ResourceSpans, ScopeSpans, Span, KeyValue, AnyValue, Status) and skips every other field.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttributeValue = string | number | boolean;

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  links: Array<{ traceId: string; spanId: string }>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests received per content type. */
  readonly requests = new Map<string, number>();
  /** Bytes of request bodies received. */
  bytes = 0;
  private server: Server | undefined;
  private port = 0;

  /** `decode: false` (the bench): only count requests and bytes, so the receiver costs the shared CPU little. */
  private constructor(private readonly decode: boolean) {}

  static async start(options: { decode?: boolean } = {}): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(options.decode ?? true);
    await receiver.listen();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens (again, on the same port after close()). */
  async listen(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
        this.requests.set(type, (this.requests.get(type) ?? 0) + 1);
        const body = Buffer.concat(chunks);
        this.bytes += body.length;
        try {
          if (request.url !== '/v1/traces') throw new Error(`unexpected path ${request.url}`);
          if (this.decode) this.spans.push(...(type === 'application/x-protobuf' ? decodeProtobuf(body) : decodeJson(body)));
          response.writeHead(200, { 'content-type': type || 'application/json' }).end(type === 'application/x-protobuf' ? '' : '{}');
        } catch (error) {
          response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening: exporters then find the port closed. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }
}

// --- OTLP/JSON ---------------------------------------------------------------------------------------------------

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
}
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}

function jsonValue(value: JsonAnyValue | undefined): AttributeValue {
  if (!value) return '';
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.doubleValue ?? '';
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((entry) => [entry.key, jsonValue(entry.value)]));
}

function decodeJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: Array<{
      resource?: { attributes?: JsonKeyValue[] };
      scopeSpans?: Array<{
        spans?: Array<{
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind?: number;
          attributes?: JsonKeyValue[];
          links?: Array<{ traceId: string; spanId: string }>;
          status?: { code?: number };
        }>;
      }>;
    }>;
  };
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const service = String(jsonAttributes(resourceSpans.resource?.attributes)['service.name'] ?? '');
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        spans.push({
          service,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          name: span.name,
          kind: span.kind ?? 0,
          attributes: jsonAttributes(span.attributes),
          links: (span.links ?? []).map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
          statusCode: span.status?.code ?? 0,
        });
      }
    }
  }
  return spans;
}

// --- OTLP/protobuf: a wire-format reader for the few fields above -----------------------------------------------

type Field = { number: number; varint?: number; bytes?: Buffer };

function* fields(buffer: Buffer): Generator<Field> {
  let offset = 0;
  const varint = (): number => {
    let result = 0;
    let factor = 1;
    for (;;) {
      const byte = buffer[offset++]!;
      result += (byte & 0x7f) * factor;
      if (byte < 0x80) return result;
      factor *= 128;
    }
  };
  while (offset < buffer.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wireType = key & 7;
    if (wireType === 0) yield { number, varint: varint() };
    else if (wireType === 1) {
      yield { number, bytes: buffer.subarray(offset, offset + 8) };
      offset += 8;
    } else if (wireType === 2) {
      const length = varint();
      yield { number, bytes: buffer.subarray(offset, offset + length) };
      offset += length;
    } else if (wireType === 5) offset += 4;
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }
}

function protobufAttribute(buffer: Buffer): [string, AttributeValue] {
  let key = '';
  let value: AttributeValue = '';
  for (const field of fields(buffer)) {
    if (field.number === 1) key = field.bytes!.toString('utf8');
    if (field.number !== 2) continue;
    for (const any of fields(field.bytes!)) {
      if (any.number === 1) value = any.bytes!.toString('utf8');
      else if (any.number === 2) value = any.varint === 1;
      else if (any.number === 3) value = any.varint!;
      else if (any.number === 4) value = any.bytes!.readDoubleLE(0);
    }
  }
  return [key, value];
}

function protobufSpan(buffer: Buffer, service: string): ReceivedSpan {
  const span: ReceivedSpan = { service, traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, attributes: {}, links: [], statusCode: 0 };
  for (const field of fields(buffer)) {
    if (field.number === 1) span.traceId = field.bytes!.toString('hex');
    else if (field.number === 2) span.spanId = field.bytes!.toString('hex');
    else if (field.number === 4) span.parentSpanId = field.bytes!.toString('hex');
    else if (field.number === 5) span.name = field.bytes!.toString('utf8');
    else if (field.number === 6) span.kind = field.varint!;
    else if (field.number === 9) {
      const [key, value] = protobufAttribute(field.bytes!);
      span.attributes[key] = value;
    } else if (field.number === 13) {
      const link = { traceId: '', spanId: '' };
      for (const part of fields(field.bytes!)) {
        if (part.number === 1) link.traceId = part.bytes!.toString('hex');
        if (part.number === 2) link.spanId = part.bytes!.toString('hex');
      }
      span.links.push(link);
    } else if (field.number === 15) {
      for (const part of fields(field.bytes!)) if (part.number === 3) span.statusCode = part.varint!;
    }
  }
  return span;
}

function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of fields(body)) {
    if (resourceSpans.number !== 1) continue;
    let service = '';
    const scopes: Buffer[] = [];
    for (const part of fields(resourceSpans.bytes!)) {
      if (part.number === 1) {
        for (const attribute of fields(part.bytes!)) {
          if (attribute.number !== 1) continue;
          const [key, value] = protobufAttribute(attribute.bytes!);
          if (key === 'service.name') service = String(value);
        }
      } else if (part.number === 2) scopes.push(part.bytes!);
    }
    for (const scope of scopes) {
      for (const part of fields(scope)) if (part.number === 2) spans.push(protobufSpan(part.bytes!, service));
    }
  }
  return spans;
}
