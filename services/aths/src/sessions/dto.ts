import { z } from 'zod';
import { fieldErrorSchema } from '@shop/service-kit';

export const tokenPairSchema = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().describe('Access-token lifetime in seconds'),
});

export const refreshBody = z.object({ refreshToken: z.string().min(1).max(512) });
export const logoutBody = z.object({ refreshToken: z.string().max(512).optional() }).nullish();

export const validateTokenBody = z.object({ token: z.string().min(1).max(4096) });
export const validTokenSchema = z.object({ valid: z.literal(true), userId: z.string(), email: z.string(), role: z.string() });
/** The error envelope of an invalid token, with `data.valid: false` for callers that read only that. */
export const invalidTokenSchema = z.object({
  success: z.literal(false),
  message: z.string(),
  errors: z.array(fieldErrorSchema),
  data: z.object({ valid: z.literal(false) }).optional(),
});
