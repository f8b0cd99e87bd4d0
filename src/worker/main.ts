/** The operational worker as its own process (docker-compose runs N of these). */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createTransport } from '../notifications/transport.js';
import { onShutdown, startWorkerService } from '../services.js';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'crm-worker');
if (!config.database.url || !config.temporal.address) {
  logger.fatal('DATABASE_URL and TEMPORAL_ADDRESS are required; `npm start` runs the embedded stack instead');
  process.exit(2);
}
// A channel the processes use with no transport is refused here, before any message waits for it.
try {
  await createTransport({ mail: config.mail, sms: config.sms }).close();
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(2);
}
const service = await startWorkerService(config, { databaseUrl: config.database.url, temporalAddress: config.temporal.address }, logger);
onShutdown(service.stop, logger);
