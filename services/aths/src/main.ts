import { ConfigError, createLogger, listenWithGracefulShutdown } from '@shop/service-kit';
import { buildApp, SERVICE_NAME } from './app.ts';
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
  const app = await buildApp(config, { logger });
  const url = await listenWithGracefulShutdown(app, { port: config.PORT, host: config.HOST });
  logger.info({ url, docs: `${url}/docs`, database: app.aths.database.location }, 'ATHS listening');
}

main().catch((error: unknown) => {
  console.error('[aths] failed to start:', error);
  process.exit(1);
});
