import type { MailMessage } from './mailer.ts';

function link(baseUrl: string, path: string, token: string): string {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.searchParams.set('token', token);
  return url.toString();
}

function hours(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}` : `${Math.round(seconds / 60)} minutes`;
}

// No mail carries text a user chose (a name, say): anyone can register with anyone's address, so whatever the mail
// shows would be read as the shop's own words. Hence "Hello," and no name (docs/aths.md, "Mail").

/** Links to ATHS's own GET /api/auth/verify-email (`athsBaseUrl` = PUBLIC_BASE_URL), which verifies and redirects. */
export function verificationMail(args: { to: string; token: string; athsBaseUrl: string; ttlSeconds: number }): MailMessage {
  const url = link(args.athsBaseUrl, 'api/auth/verify-email', args.token);
  return {
    kind: 'email-verification',
    to: args.to,
    subject: 'Verify your e-mail address',
    link: url,
    text: [
      'Hello,',
      '',
      'Please confirm your e-mail address by opening this link:',
      url,
      '',
      `Verification token: ${args.token}`,
      `The link expires in ${hours(args.ttlSeconds)}. If you did not create an account, ignore this message.`,
    ].join('\n'),
  };
}

/** Links to the app's page (`baseUrl` = APP_BASE_URL): the new password is chosen there. */
export function passwordResetMail(args: { to: string; token: string; baseUrl: string; ttlSeconds: number }): MailMessage {
  const url = link(args.baseUrl, 'reset-password', args.token);
  return {
    kind: 'password-reset',
    to: args.to,
    subject: 'Reset your password',
    link: url,
    text: [
      'Hello,',
      '',
      'Someone (hopefully you) asked to reset the password of your account. Open this link to choose a new one:',
      url,
      '',
      `Reset token: ${args.token}`,
      `The link expires in ${hours(args.ttlSeconds)} and works once. If you did not ask for this, ignore this message: your password stays unchanged.`,
    ].join('\n'),
  };
}
