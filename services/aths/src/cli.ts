import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ConfigError, createLogger, personNameSchema } from '@shop/service-kit';
import { buildApp, SERVICE_NAME, type AthsApp, type BuildAppDeps } from './app.ts';
import type { CliCommand, CliContext } from './cli-command.ts';
import { loadAthsConfig } from './config.ts';
import { provisioningCommands } from './customer-provisioning/cli.ts';
import { passwordProblem } from './users/password-rule.ts';

/** Options passed to buildApp by the CLI; other modules may extend them (e.g. lifecycle hooks). */
export const cliAppDeps: BuildAppDeps = { bootstrapAdmin: false, customerProvisioning: { deliver: false } };

/** `npm run admin -- <command> [options]`: operator commands against the configured database (add one here). */
export const commands: Record<string, CliCommand<AthsApp>> = {
  'rotate-signing-key': {
    description: 'Retire the current access-token signing key and create a new one (old tokens stay valid until they expire)',
    async run(_args, ctx) {
      const app = await ctx.app();
      const { kid, retiredKid } = await app.aths.keys.rotate();
      const retentionMinutes = Math.ceil(app.aths.keys.retentionMs / 60_000);
      ctx.out(`New signing key: ${kid}`);
      ctx.out(retiredKid ? `Retired key ${retiredKid} stays in the JWKS for ${retentionMinutes} more minutes.` : 'There was no previous key.');
      ctx.out('Running instances pick the new key up within 30 seconds.');
    },
  },
  'create-admin': {
    description: 'Create an Administrator (password generated and printed when not given)',
    usage: '--email <email> [--password <password>] [--name <full name>] [--contact <phone>]',
    async run(args, ctx) {
      const { values } = parseArgs({
        args,
        options: {
          email: { type: 'string' },
          password: { type: 'string' },
          name: { type: 'string', default: 'Administrator' },
          contact: { type: 'string', default: '0000000000' },
        },
      });
      if (!values.email) {
        ctx.out('--email is required');
        return 2;
      }
      const generated = values.password === undefined;
      const password = values.password ?? `A1${randomBytes(12).toString('base64url')}`;
      const problem = passwordProblem(password);
      if (problem) {
        ctx.out(`--password ${problem}`);
        return 2;
      }
      const fullName = personNameSchema.safeParse(values.name);
      if (!fullName.success) {
        ctx.out(`--name ${fullName.error.issues[0]!.message}`);
        return 2;
      }
      const app = await ctx.app();
      const user = await app.aths.registration.createUser(
        { email: values.email.trim().toLowerCase(), password, fullName: fullName.data, contactNumber: values.contact, role: 'Administrator', emailVerified: true },
        { sendVerification: false },
      );
      ctx.out(`Created Administrator ${user.email} (${user.id})`);
      if (generated) ctx.out(`Password: ${password}`);
    },
  },
  'list-signing-keys': {
    description: 'Show the keys currently published in the JWKS',
    async run(_args, ctx) {
      const app = await ctx.app();
      const current = await app.aths.keys.currentKid();
      for (const key of (await app.aths.keys.jwks()).keys) ctx.out(`${key.kid}${key.kid === current ? '  (current)' : '  (retired)'}`);
    },
  },
  ...provisioningCommands,
};

function help(out: (line: string) => void): void {
  out('Usage: npm run admin -- <command> [options]\n\nCommands:');
  for (const [name, command] of Object.entries(commands)) {
    out(`  ${name}${command.usage ? ` ${command.usage}` : ''}\n      ${command.description}`);
  }
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env, out = (line: string) => console.log(line)): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help') {
    help(out);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    out(`Unknown command: ${name}\n`);
    help(out);
    return 2;
  }
  const config = loadAthsConfig({ LOG_LEVEL: 'warn', ...env });
  let app: AthsApp | null = null;
  const ctx: CliContext<AthsApp> = {
    config,
    out,
    async app() {
      app ??= await buildApp(config, { logger: createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL }), ...cliAppDeps });
      return app;
    },
  };
  try {
    return (await command.run(args, ctx)) ?? 0;
  } finally {
    if (app) await (app as AthsApp).close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof ConfigError ? error.message : error);
      process.exit(1);
    },
  );
}
