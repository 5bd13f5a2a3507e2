import { ConfigError } from '@shop/service-kit';
import { startAths } from './start.ts';

startAths(process.env).catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`[aths] ${error.message}`);
  else console.error('[aths] failed to start:', error);
  process.exit(1);
});
