import { ObjectId } from 'bson';
import { z } from 'zod';

/** New 24-hex-character ObjectId-style id (time-ordered, unique across processes). */
export function newObjectId(): string {
  return new ObjectId().toHexString();
}

export const objectIdSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{24}$/, 'must be a 24-character hexadecimal id')
  .transform((value) => value.toLowerCase());
