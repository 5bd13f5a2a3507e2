import { ConfigError, listenWithGracefulShutdown } from '@shop/service-kit';
import { buildApp } from './app.ts';
import { loadCrmsConfig } from './config.ts';

try {
  const config = loadCrmsConfig();
  const app = await buildApp(config);
  const url = await listenWithGracefulShutdown(app, { port: config.PORT, host: config.HOST });
  app.log.info({ url, docs: `${url}/docs`, aths: config.ATHS_BASE_URL }, 'CRMS listening');
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`CRMS cannot start: ${error.message}\n`);
  } else {
    process.stderr.write(`CRMS failed to start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
}
