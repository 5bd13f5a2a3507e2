import { ConfigError, createLogger, startService } from '@shop/service-kit';
import { buildApp, openAthsDatabase, SERVICE_NAME, VERSION } from './app.ts';
import { loadAthsConfig } from './config.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadAthsConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`[aths] ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
  // Listens at once and waits for the database if it is not up yet (/health/ready says so meanwhile).
  const { url, docs, database } = await startService({
    service: SERVICE_NAME,
    version: VERSION,
    logger,
    config,
    openDatabase: () => openAthsDatabase(config, logger),
    buildApp: (database, serverFactory) => buildApp(config, { logger, database, serverFactory }),
  });
  logger.info({ url, docs, database: database.location }, 'ATHS ready');
}

main().catch((error: unknown) => {
  console.error('[aths] failed to start:', error);
  process.exit(1);
});
