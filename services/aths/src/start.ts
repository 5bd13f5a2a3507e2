import { createLogger, startService, type StartedService } from '@shop/service-kit';
import { buildApp, openAthsDatabase, SERVICE_NAME, VERSION, type AthsApp } from './app.ts';
import { loadAthsConfig } from './config.ts';

/**
 * ATHS configured by `env`, listening at once and serving once its database is open (main.ts; `npm start` runs it
 * beside CRMS in one process, with `exitOnSignals: false`). Throws ConfigError on a bad environment.
 */
export async function startAths(env: NodeJS.ProcessEnv, options: { exitOnSignals?: boolean } = {}): Promise<StartedService<AthsApp>> {
  const config = loadAthsConfig(env);
  const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
  // Listens at once and waits for the database if it is not up yet (/health/ready says so meanwhile).
  const started = await startService({
    service: SERVICE_NAME,
    version: VERSION,
    logger,
    config,
    exitOnSignals: options.exitOnSignals,
    openDatabase: () => openAthsDatabase(config, logger),
    buildApp: (database, serverFactory) => buildApp(config, { logger, database, serverFactory }),
  });
  logger.info({ url: started.url, docs: started.docs, database: started.database.location }, 'ATHS ready');
  return started;
}
