/** The operational API as its own process. Keys come only from API_KEYS here. */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { onShutdown, startApiService } from '../services.js';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'crm-api');
if (!config.database.url || !config.temporal.address) {
  logger.fatal('DATABASE_URL and TEMPORAL_ADDRESS are required; `npm start` runs the embedded stack instead');
  process.exit(2);
}
if (config.api.keys.length === 0) logger.warn('API_KEYS is empty: every /v1 request will be answered 401');
const service = await startApiService(config, { databaseUrl: config.database.url, temporalAddress: config.temporal.address }, logger, config.api.keys);
onShutdown(service.stop, logger);
