import { z } from 'zod';

/**
 * Control, separator and invisible format characters (except ZWNJ/ZWJ, which Persian, Indic scripts and emoji need)
 * let a name rewrite what is shown around it: docs/aths.md, "Names".
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
