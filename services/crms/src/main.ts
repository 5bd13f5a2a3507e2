import { ConfigError, createLogger, startService } from '@shop/service-kit';
import { buildApp, VERSION } from './app.ts';
import { loadCrmsConfig } from './config.ts';
import { openCrmsDatabase } from './database.ts';

try {
  const config = loadCrmsConfig();
  const logger = createLogger({ service: 'crms', level: config.LOG_LEVEL });
  // Listens at once and waits for the database if it is not up yet (/health/ready says so meanwhile).
  const { url, docs } = await startService({
    service: 'crms',
    version: VERSION,
    logger,
    config,
    openDatabase: () => openCrmsDatabase(config, logger),
    buildApp: (database, serverFactory) => buildApp(config, { logger, database, serverFactory }),
  });
  logger.info({ url, docs, aths: config.ATHS_BASE_URL }, 'CRMS listening');
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`CRMS cannot start: ${error.message}\n`);
  } else {
    process.stderr.write(`CRMS failed to start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
}
