import type { AthsConfig } from './config.ts';

/**
 * What a command of `npm run admin` gets (cli.ts lists the commands; modules such as customer-provisioning add theirs).
 * `App` is what the command uses of ATHS's app: a module names only its part, so that it does not depend on app.ts.
 */
export interface CliContext<App> {
  config: AthsConfig;
  /** Opens the database and builds the app (routes are not listened on); closed after the command. */
  app(): Promise<App>;
  out(line: string): void;
}

export interface CliCommand<App> {
  description: string;
  usage?: string;
  run(args: string[], ctx: CliContext<App>): Promise<void | number>;
}
