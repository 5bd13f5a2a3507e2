import { z } from 'zod';

/**
 * Characters a person's name never needs and that let a name rewrite what is shown around it: every control
 * character (Cc: tab, line feed, carriage return, NEL, …), the line and paragraph separators (U+2028, U+2029), and
 * every invisible format character (Cf: bidirectional overrides and isolates, zero-width space, word joiner, soft
 * hyphen, BOM, tags, …) except the zero-width non-joiner and joiner (U+200C, U+200D), which Persian and Indic
 * scripts (and emoji) need. The rule and its reasons: docs/aths.md ("Names").
 */
const NOT_IN_NAMES = /[\p{Cc}\p{Zl}\p{Zp}]|(?![\u200C\u200D])\p{Cf}/u;

export const PERSON_NAME_MESSAGE =
  'must not contain control or invisible formatting characters (line breaks, tabs, bidirectional overrides, zero-width spaces)';

export const isPersonName = (value: string): boolean => !NOT_IN_NAMES.test(value);

/**
 * A person's full name as both services accept it: checked before trimming (a trailing line break is refused, not
 * quietly cut), then trimmed, 2–100 characters. Letters of any script, marks, spaces, apostrophes, hyphens, dots
 * and digits all pass.
 */
export const personNameSchema = z
  .string()
  .refine(isPersonName, PERSON_NAME_MESSAGE)
  .trim()
  .min(2)
  .max(100)
  .describe('2–100 characters after trimming; no control or invisible formatting characters');
