import type { Logger } from '@shop/service-kit';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** The link inside (written to the log when no SMTP server is configured). */
  link?: string;
  /** For logs: what kind of mail this is. */
  kind: string;
}

/** The part of a nodemailer transport the mailer uses (tests may pass their own). */
export interface MailTransport {
  sendMail(message: { from: string; to: string; subject: string; text: string; html?: string }): Promise<unknown>;
  /** nodemailer's check that the server can be reached and accepts us (connect, greeting, login); rejects if not. */
  verify?(): Promise<unknown>;
  close?(): void;
}

export interface MailerOptions {
  smtpUrl?: string;
  from: string;
  logger: Logger;
  transport?: MailTransport;
  /** Messages sent at the same time. */
  concurrency?: number;
  /** Attempts per message before it is given up (logged as an error). */
  attempts?: number;
  retryDelayMs?: number;
  /** Without SMTP, write the link (with its token) to the log: development only (default true). */
  logLinks?: boolean;
}

/** nodemailer's SMTP transport, loaded at the first mail or check rather than at start (docs/operations.md, cold start). */
function smtpTransport(url: string): MailTransport {
  let created: Promise<MailTransport> | undefined;
  const transport = () => (created ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(url)));
  return {
    sendMail: async (message) => (await transport()).sendMail(message),
    verify: async () => (await transport()).verify!(),
    close: () => void created?.then((smtp) => smtp.close?.()),
  };
}

/**
 * Outgoing mail, never on a request's critical path: `enqueue` returns at once and the message is sent from an
 * in-process queue after the current request's response went out. Failures are retried a few times, then logged.
 * Without an SMTP server, the message and its link are written to the log instead (development).
 */
export function createMailer(options: MailerOptions) {
  const { logger } = options;
  const transport: MailTransport | null =
    options.transport ?? (options.smtpUrl ? smtpTransport(options.smtpUrl) : null);
  const concurrency = options.concurrency ?? 4;
  const attempts = options.attempts ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 2_000;
  const queue: MailMessage[] = [];
  let active = 0;
  let idleWaiters: (() => void)[] = [];
  let closed = false;

  function pump(): void {
    while (active < concurrency && queue.length > 0) {
      const message = queue.shift()!;
      active++;
      void deliver(message).finally(() => {
        active--;
        if (queue.length > 0) pump();
        else if (active === 0) notifyIdle();
      });
    }
  }

  async function deliver(message: MailMessage): Promise<void> {
    if (!transport) {
      if (options.logLinks === false) {
        logger.warn({ mail: { kind: message.kind, to: message.to } }, 'mail not sent: SMTP_URL is not set');
        return;
      }
      logger.info(
        { mail: { kind: message.kind, to: message.to, subject: message.subject, link: message.link } },
        `mail not sent (no SMTP_URL): ${message.subject} → ${message.to}${message.link ? ` link: ${message.link}` : ''}`,
      );
      return;
    }
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const started = Date.now();
      try {
        await transport.sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text, html: message.html });
        logger.info({ mail: { kind: message.kind, to: message.to }, attempt, durationMs: Date.now() - started }, 'mail sent');
        return;
      } catch (error) {
        const last = attempt === attempts || closed;
        logger[last ? 'error' : 'warn'](
          { mail: { kind: message.kind, to: message.to }, attempt, err: { message: (error as Error).message } },
          last ? 'mail delivery failed; giving up' : 'mail delivery failed; will retry',
        );
        if (last) return;
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs * attempt));
      }
    }
  }

  function notifyIdle(): void {
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once nothing is queued or being sent. */
  function idle(): Promise<void> {
    if (active === 0 && queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  }

  /** How mail leaves: an SMTP server (SMTP_URL), the log (no SMTP_URL), or a transport given by the embedding code. */
  const transportKind: 'smtp' | 'log' | 'custom' = options.transport ? 'custom' : transport ? 'smtp' : 'log';
  return {
    delivers: transport !== null,
    transportKind,
    idle,

    /**
     * Asks the transport whether it could send now (nodemailer's public `verify()`: one connection, greeting, login,
     * quit); rejects when it cannot. Resolves false when there is nothing to ask (the log, a transport without verify).
     */
    async verifyTransport(): Promise<boolean> {
      if (!transport?.verify) return false;
      await transport.verify();
      return true;
    },

    enqueue(message: MailMessage): void {
      if (closed) {
        logger.warn({ kind: message.kind }, 'mailer closed: message dropped');
        return;
      }
      queue.push(message);
      // setImmediate: after the I/O phase in which the current response is written.
      setImmediate(pump);
    },

    /** Stops taking messages and waits (up to `graceMs`) for the queue to drain. */
    async close(graceMs = 5_000): Promise<void> {
      closed = true;
      await Promise.race([idle(), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      transport?.close?.();
    },
  };
}

export type Mailer = ReturnType<typeof createMailer>;
