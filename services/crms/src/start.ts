import { createLogger, startService, type App, type StartedService } from '@shop/service-kit';
import { buildApp, VERSION } from './app.ts';
import { loadCrmsConfig } from './config.ts';
import { openCrmsDatabase } from './database.ts';

/**
 * CRMS configured by `env`, listening at once and serving once its database is open (main.ts; `npm start` runs it
 * beside ATHS in one process, with `exitOnSignals: false`). Throws ConfigError on a bad environment.
 */
export async function startCrms(env: NodeJS.ProcessEnv, options: { exitOnSignals?: boolean } = {}): Promise<StartedService<App>> {
  const config = loadCrmsConfig(env);
  const logger = createLogger({ service: 'crms', level: config.LOG_LEVEL });
  // Listens at once and waits for the database if it is not up yet (/health/ready says so meanwhile).
  const started = await startService({
    service: 'crms',
    version: VERSION,
    logger,
    config,
    exitOnSignals: options.exitOnSignals,
    openDatabase: () => openCrmsDatabase(config, logger),
    buildApp: (database, serverFactory) => buildApp(config, { logger, database, serverFactory }),
  });
  logger.info({ url: started.url, docs: started.docs, aths: config.ATHS_BASE_URL }, 'CRMS listening');
  return started;
}
