import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Personal data never goes into a log line: the redact list is a safety
 * net for fields that must not appear even by accident.
 */
/** `destination`: where the lines go instead of stdout (the tests' key scan keeps them). */
export function createLogger(level: string, name = 'crm', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'email',
        'phone',
        'address',
        'code',
        'bankAccount',
        'iban',
        '*.email',
        '*.phone',
        '*.name',
        '*.address',
        '*.code',
        '*.bankAccount',
        'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
