import type { AthsApp } from './app.ts';
import type { AthsConfig } from './config.ts';

/** What a command of `npm run admin` gets (cli.ts lists the commands; modules such as customer-provisioning add theirs). */
export interface CliContext {
  config: AthsConfig;
  /** Opens the database and builds the app (routes are not listened on); closed after the command. */
  app(): Promise<AthsApp>;
  out(line: string): void;
}

export interface CliCommand {
  description: string;
  usage?: string;
  run(args: string[], ctx: CliContext): Promise<void | number>;
}

