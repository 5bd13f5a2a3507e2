import type { FastifyReply } from 'fastify';
import { authOf, badRequest, BEARER_SECURITY, errorResponses, messageOnlySchema, ok, successSchema, type App } from '@shop/service-kit';
import type { Credentials } from '../accounts/credentials.ts';
import {
  assertConfirmed,
  authResultSchema,
  forgotPasswordBody,
  loginBody,
  registerBody,
  resetPasswordBody,
  verificationRedirectSchema,
  verifyEmailBody,
  verifyEmailQuery,
} from '../accounts/dto.ts';
import { verificationRedirect, type EmailVerification, type VerificationFailure } from '../accounts/email-verification.ts';
import type { Registration } from '../accounts/registration.ts';
import type { Guards } from '../http/guards.ts';
import type { RateLimits } from '../http/rate-limits.ts';
import type { AthsMetrics } from '../metrics.ts';
import { logoutBody, refreshBody, tokenPairSchema } from '../sessions/dto.ts';
import type { Sessions } from '../sessions/service.ts';
import { toPublicUser, userDataSchema } from '../users/dto.ts';

const tags = ['auth'];

export interface AuthRoutesDeps {
  registration: Registration;
  credentials: Credentials;
  emailVerification: EmailVerification;
  sessions: Sessions;
  rateLimits: RateLimits;
  userGuard: Guards['user'];
  refreshes: AthsMetrics['refreshes'];
  /** EMAIL_VERIFIED_REDIRECT_URL: where the verification link sends the browser. */
  verifiedRedirectUrl: string;
}

export function registerAuthRoutes(app: App, deps: AuthRoutesDeps): void {
  const { registration, credentials, emailVerification, sessions, rateLimits } = deps;

  app.post(
    '/api/auth/register',
    {
      preHandler: rateLimits.register,
      schema: {
        tags,
        summary: 'Register a Customer account',
        description:
          'Creates a Customer (any other `role` → 403), signs them in and sends a verification e-mail. The CRMS record is provisioned asynchronously.',
        security: [],
        body: registerBody,
        response: { 201: successSchema(authResultSchema), ...errorResponses(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const { user, tokens } = await registration.register(request.body);
      return reply.code(201).send(ok('User registered successfully', { user: toPublicUser(user), ...tokens }));
    },
  );

  app.post(
    '/api/auth/login',
    {
      preHandler: rateLimits.login,
      schema: {
        tags,
        summary: 'Sign in with e-mail and password',
        security: [],
        body: loginBody,
        response: { 200: successSchema(authResultSchema), ...errorResponses(400, 401, 429) },
      },
    },
    async (request) => {
      const { user, tokens } = await credentials.login(request.body.email, request.body.password);
      return ok('Login successful', { user: toPublicUser(user), ...tokens });
    },
  );

  app.post(
    '/api/auth/refresh-token',
    {
      schema: {
        tags,
        summary: 'Exchange a refresh token for a new access token (and, with rotation on, a new refresh token)',
        description:
          'Role and e-mail in the new access token are re-read from the user; a deactivated user gets 401. ' +
          'With `REFRESH_TOKEN_ROTATION=on` (default) the presented refresh token is used up and a new one is returned; ' +
          'presenting an already-used one revokes its whole session. With `off` the same refresh token is returned and ' +
          'stays valid until logout, a password change or reset, deactivation or deletion of the account, or its expiry. ' +
          'Either way a session ends `REFRESH_TOKEN_ABSOLUTE_TTL` (default 30 days) after the login or registration that ' +
          'started it; refreshes never extend that. Invalid, expired or revoked token → 401 field `refreshToken`.',
        security: [],
        body: refreshBody,
        response: { 200: successSchema(tokenPairSchema), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      try {
        const tokens = await sessions.refresh(request.body.refreshToken);
        deps.refreshes.inc({ outcome: 'success' });
        return ok('Token refreshed successfully', tokens);
      } catch (error) {
        deps.refreshes.inc({ outcome: 'rejected' });
        throw error;
      }
    },
  );

  app.post(
    '/api/auth/logout',
    {
      schema: {
        tags,
        summary: 'End the session of a refresh token',
        security: [],
        body: logoutBody,
        response: { 200: messageOnlySchema, ...errorResponses(400) },
      },
    },
    async (request) => {
      const token = request.body?.refreshToken;
      if (token) await sessions.logout(token);
      return ok('Logout successful');
    },
  );

  app.post(
    '/api/auth/forgot-password',
    {
      preHandler: rateLimits.forgotPassword,
      schema: {
        tags,
        summary: 'Send a password-reset link',
        description: 'Answers the same whether or not an account exists for the address.',
        security: [],
        body: forgotPasswordBody,
        response: { 200: messageOnlySchema, ...errorResponses(400, 429) },
      },
    },
    async (request) => {
      credentials.forgotPassword(request.body.email);
      return ok('If an account exists for this email, a password reset link has been sent');
    },
  );

  app.post(
    '/api/auth/reset-password',
    {
      preHandler: rateLimits.resetPassword,
      schema: {
        tags,
        summary: 'Set a new password with a reset token',
        security: [],
        body: resetPasswordBody,
        response: { 200: messageOnlySchema, ...errorResponses(400, 429) },
      },
    },
    async (request) => {
      const { token, resetToken, newPassword } = request.body;
      const value = token ?? resetToken;
      if (!value) throw badRequest('Validation failed', 'body -> token', 'field required');
      assertConfirmed(request.body);
      await credentials.resetPassword(value, newPassword);
      return ok('Password reset successfully. Please sign in with your new password');
    },
  );

  app.post(
    '/api/auth/verify-email',
    {
      schema: {
        tags,
        summary: 'Confirm an e-mail address with the token from the verification mail',
        security: [],
        body: verifyEmailBody,
        response: { 200: successSchema(userDataSchema), ...errorResponses(400) },
      },
    },
    async (request) => {
      const user = await emailVerification.verify(request.body.token);
      return ok('Email verified successfully', { user: toPublicUser(user) });
    },
  );

  // The link in the verification mail: a person clicked it, so every outcome is a redirect to the app, never JSON.
  const verifiedRedirect = (reply: FastifyReply, failure?: VerificationFailure) =>
    reply.header('cache-control', 'no-store').redirect(verificationRedirect(deps.verifiedRedirectUrl, failure), 302);
  app.get(
    '/api/auth/verify-email',
    {
      // Only a GET verifies (a HEAD from a link checker must not use the token up).
      exposeHeadRoute: false,
      attachValidation: true,
      // A bad request (e.g. NUL in the query) is an unusable link too; server errors keep the envelope.
      errorHandler: (error, _request, reply) => {
        if ((error.statusCode ?? 500) >= 500) throw error;
        void verifiedRedirect(reply, 'invalid'); // sends the redirect
      },
      schema: {
        tags,
        summary: 'Verify an e-mail address from the link in the mail, then redirect to the app',
        description:
          'Uses the token like `POST /api/auth/verify-email` (single use), then answers 302 to `EMAIL_VERIFIED_REDIRECT_URL` ' +
          '(default `APP_BASE_URL/login`; its own query parameters are kept) with `emailVerified=1`, or `emailVerified=0` and ' +
          '`reason` = `missing` (no token), `invalid` (unknown or malformed token), `expired`, or `used` (used already, or ' +
          'replaced by a newer link).',
        security: [],
        querystring: verifyEmailQuery,
        response: { 302: verificationRedirectSchema },
      },
    },
    async (request, reply) => {
      const token = request.validationError ? undefined : request.query.token;
      const failure = request.validationError ? 'invalid' : token ? await emailVerification.verifyLink(token) : 'missing';
      return verifiedRedirect(reply, failure);
    },
  );

  app.post(
    '/api/auth/resend-verification',
    {
      onRequest: deps.userGuard,
      preHandler: rateLimits.resendVerification,
      schema: {
        tags,
        summary: 'Send a new verification e-mail',
        security: BEARER_SECURITY,
        response: { 200: messageOnlySchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      await emailVerification.resend(authOf(request).userId);
      return ok('Verification email sent');
    },
  );
}
