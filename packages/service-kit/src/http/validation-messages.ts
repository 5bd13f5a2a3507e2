import type { FastifySchemaValidationError } from 'fastify';
import type { z } from 'zod';
import type { FieldError } from './envelope.ts';

const LOCATION: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
  object: 'an object',
  array: 'an array',
  date: 'a date',
};

/** Plain-English message for one zod issue, in the style of API.md (`value is not a valid email address`). */
export function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      // zod omits the input from issues; its default message still says what was received.
      if (/received undefined$/.test(issue.message)) return 'field required';
      if (/received null$/.test(issue.message)) return 'value must not be null';
      return `value must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_format':
      if (issue.format === 'email') return 'value is not a valid email address';
      if (issue.format === 'regex') return issue.message && !issue.message.startsWith('Invalid') ? issue.message : 'value has an invalid format';
      if (issue.format === 'datetime') return 'value is not a valid ISO-8601 date-time';
      return `value is not a valid ${issue.format}`;
    case 'too_small':
      if (issue.origin === 'string') return `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array') return `must contain at least ${issue.minimum} items`;
      return issue.inclusive ? `must be greater than or equal to ${issue.minimum}` : `must be greater than ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array') return `must contain at most ${issue.maximum} items`;
      return issue.inclusive ? `must be less than or equal to ${issue.maximum}` : `must be less than ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown keys: ${issue.keys.join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return 'value does not match any accepted form';
    default:
      return issue.message || 'value is invalid';
  }
}

/** Fastify's schema errors (from the zod type provider) → `[{field: "body -> email", message}]`. */
export function validationFieldErrors(
  validation: FastifySchemaValidationError[],
  context: string | undefined,
): FieldError[] {
  const location = LOCATION[context ?? 'body'] ?? context ?? 'body';
  return validation.map((entry) => {
    const path = entry.instancePath.split('/').filter(Boolean);
    // The zod type provider puts the issue's own fields (minus code, path and message) in `params`.
    const issue = { ...(entry.params as object), code: entry.keyword, message: entry.message } as z.core.$ZodIssue;
    return { field: [location, ...path].join(' -> '), message: describeIssue(issue) };
  });
}
