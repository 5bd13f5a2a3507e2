/** The routes a service documents in its OpenAPI document (GET /docs/json), and a valid skeleton for each body. */

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  default?: unknown;
  additionalProperties?: unknown;
};

interface OpenApiParameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema?: JsonSchema;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: unknown[];
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface Route {
  method: string;
  /** OpenAPI template, e.g. /api/customers/{customerId}. */
  path: string;
  pathParams: string[];
  query: Record<string, JsonSchema>;
  body: JsonSchema | undefined;
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every operation of the document (HEAD/OPTIONS excluded); /docs UI assets are not part of the API. */
export function routesOf(document: OpenApiDocument): Route[] {
  const routes: Route[] = [];
  const resolve = (schema: JsonSchema | undefined): JsonSchema | undefined => resolveRef(document, schema);
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const parameters = operation.parameters ?? [];
      const query: Record<string, JsonSchema> = {};
      for (const parameter of parameters) if (parameter.in === 'query') query[parameter.name] = resolve(parameter.schema) ?? {};
      const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
      routes.push({
        method: method.toUpperCase(),
        path,
        pathParams,
        query,
        body: resolve(operation.requestBody?.content?.['application/json']?.schema),
      });
    }
  }
  return routes;
}

function resolveRef(document: OpenApiDocument, schema: JsonSchema | undefined, depth = 0): JsonSchema | undefined {
  if (!schema || depth > 10) return schema;
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop()!;
    return resolveRef(document, document.components?.schemas?.[name], depth + 1);
  }
  if (schema.properties) {
    const properties: Record<string, JsonSchema> = {};
    for (const [key, value] of Object.entries(schema.properties)) properties[key] = resolveRef(document, value, depth + 1) ?? {};
    return { ...schema, properties };
  }
  return schema;
}

/** A value that passes the schema as far as cheaply possible (the skeleton the fuzzer then breaks). */
export function plausible(schema: JsonSchema | undefined, depth = 0): unknown {
  if (!schema || depth > 6) return 'x';
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const union = schema.anyOf ?? schema.oneOf;
  if (union?.length) return plausible(union.find((option) => option.type !== 'null') ?? union[0], depth + 1);
  if (schema.allOf?.length) return plausible(schema.allOf[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) out[key] = plausible(value, depth + 1);
      return out;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    default: {
      if (schema.format === 'email') return 'fuzz.user@example.com';
      if (schema.format === 'date-time') return '2026-01-26T10:30:00.000Z';
      if (schema.pattern === '^[0-9a-fA-F]{24}$' || /24/.test(schema.pattern ?? '')) return '0123456789abcdef01234567';
      const length = Math.max(schema.minLength ?? 0, Math.min(12, schema.maxLength ?? 12));
      return 'Abcdef12345678901234567890'.slice(0, Math.max(length, 1)).padEnd(length, '0');
    }
  }
}

export async function fetchOpenApi(baseUrl: string): Promise<OpenApiDocument> {
  const response = await fetch(`${baseUrl}/docs/json`);
  if (!response.ok) throw new Error(`GET ${baseUrl}/docs/json answered ${response.status}`);
  return (await response.json()) as OpenApiDocument;
}
