import fastJsonStringify from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify';
import { z } from 'zod';

/**
 * Answers are written by fast-json-stringify (Fastify's own serializer) from the JSON Schema of the route's zod
 * response schema, the one /docs shows: only documented fields leave, in the documented order. Half the CPU of zod's
 * encode + JSON.stringify per answer; the shapes are checked by the types and tests, not per answer (docs/CONVENTIONS.md).
 */
export const responseSerializerCompiler: FastifySerializerCompiler<z.ZodType> = ({ schema }) =>
  fastJsonStringify(z.toJSONSchema(schema, { io: 'output', target: 'draft-07', unrepresentable: 'any' }) as never);
