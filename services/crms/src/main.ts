import { ConfigError } from '@shop/service-kit';
import { startCrms } from './start.ts';

try {
  await startCrms(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`CRMS cannot start: ${error.message}\n`);
  } else {
    process.stderr.write(`CRMS failed to start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
}
