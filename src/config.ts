/**
 * The one configuration module. Every setting comes from the environment, parsed with zod;
 * the defaults serve the embedded stack started by `npm start`.
 */
import { z } from 'zod';
import { parseDuration } from './domain/duration.js';
import { proxyEntryProblem } from './http/proxies.js';
// processes.ts has no import: the config module must not build domain schemas before the API extends zod with .openapi.
import { DEFAULT_STAGE_PROBABILITIES, LEAD_STAGES, type StageProbabilities } from './domain/processes.js';

export const ROLES = ['agent', 'backoffice', 'admin', 'analyst'] as const;
export type Role = (typeof ROLES)[number];

const apiKeySchema = z.object({
  role: z.enum(ROLES),
  actor: z.string().min(1).max(100),
  /** hex SHA-256 of the key; the key itself is never configured or stored */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256 digest'),
});
export type ApiKeyEntry = z.infer<typeof apiKeySchema>;

const port = z.coerce.number().int().min(0).max(65535);
const boolish = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** "90 days", "36 hours", "15m", "500 ms": parsed to milliseconds. */
const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration like "2 days" or "36 hours"` });
    return z.NEVER;
  }
  return ms;
});

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default('.data'),
  /** A workflow bundle built ahead (`npm run build:workflows`, the Docker image); unset: built at worker start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),

  /** External operational database; unset means the embedded PostgreSQL of `npm start`. */
  DATABASE_URL: z.string().url().optional(),
  /** External analytics database; unset means `crm_analytics` on the embedded PostgreSQL. */
  ANALYTICS_DATABASE_URL: z.string().url().optional(),
  EMBEDDED_PG_PORT: port.default(5544),
  /** Directory with the PostgreSQL server binaries (bin/postgres, bin/initdb) for the embedded database; unset: the npm package's. */
  EMBEDDED_PG_BIN_DIR: z.string().min(1).optional(),

  /** External Temporal frontend (host:port); unset means the embedded dev server. */
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('crm-operational'),
  /**
   * Worker Versioning: the operational worker runs as a version of this Worker Deployment, its build
   * id the workflow bundle's content hash (WORKER_BUILD_ID overrides it). `off`: an unversioned worker.
   */
  WORKER_VERSIONING: z.enum(['on', 'off']).default('on'),
  WORKER_DEPLOYMENT_NAME: z.string().min(1).max(200).default('crm-operational'),
  WORKER_BUILD_ID: z.string().min(1).max(200).optional(),
  /**
   * What a starting worker does with its version: `current` makes it current, `if-none` only when
   * the deployment has no current version yet (a first deployment), `none` leaves it to the rollout
   * (`temporal worker deployment set-ramping-version` / `set-current-version`). `npm start` always makes it current.
   */
  WORKER_PROMOTE: z.enum(['current', 'if-none', 'none']).default('if-none'),
  /**
   * Operational worker tuning (README, Performance → Tuning); unset: the value in
   * src/worker/worker.ts's WORKER_TUNING_DEFAULTS.
   */
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2, 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS must be at least 2').optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1, 'WORKER_MAX_CONCURRENT_ACTIVITIES must be at least 1').optional(),
  /**
   * Workflows an operational worker keeps in memory (sticky cache). Unset: 250
   * (WORKER_TUNING_DEFAULTS), which keeps a worker under 512 MiB. Open funnels waiting on timers
   * beyond it cost nothing in the worker: an evicted workflow is replayed from history when it wakes.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .min(0, 'WORKER_MAX_CACHED_WORKFLOWS must be at least 0')
    .max(100_000, 'WORKER_MAX_CACHED_WORKFLOWS must be at most 100000')
    .optional(),
  WORKER_WORKFLOW_POLLERS: z.coerce.number().int().min(2, 'WORKER_WORKFLOW_POLLERS must be at least 2').optional(),
  WORKER_ACTIVITY_POLLERS: z.coerce.number().int().min(1, 'WORKER_ACTIVITY_POLLERS must be at least 1').optional(),
  /** Activity slots a workflow task may reserve for eager dispatch (0: none). */
  WORKER_EAGER_ACTIVITIES: z.coerce.number().int().min(0, 'WORKER_EAGER_ACTIVITIES must be at least 0').optional(),
  /** Connections of each process's PostgreSQL pool (the API's and the worker's, each). */
  DATABASE_POOL_MAX: z.coerce.number().int().min(1, 'DATABASE_POOL_MAX must be at least 1').max(1000, 'DATABASE_POOL_MAX must be at most 1000').default(10),
  TEMPORAL_DEV_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_UI_URL: z.string().url().optional(),
  /**
   * How long Temporal keeps a closed workflow (the namespace retention, applied at start): how long
   * operators can open it in the Temporal UI and how far analytics may fall behind. No API read
   * depends on it. Temporal accepts one day at least.
   */
  TEMPORAL_RETENTION: duration.prefault('30 days').pipe(z.number().min(86_400_000, 'TEMPORAL_RETENTION must be at least 1 day (Temporal refuses less)')),

  API_HOST: z.string().default('0.0.0.0'),
  API_PORT: port.default(3000),
  /** How long an Idempotency-Key is honoured (kept in PostgreSQL, independent of Temporal's retention). */
  IDEMPOTENCY_TTL: duration.prefault('7 days').pipe(z.number().min(60_000, 'IDEMPOTENCY_TTL must be at least 1 minute')),
  /** JSON array of {role, actor, sha256}. Outside the embedded default this is the only source of keys. */
  API_KEYS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (!raw) return [] as ApiKeyEntry[];
      try {
        const parsed = z.array(apiKeySchema).safeParse(JSON.parse(raw));
        if (parsed.success) return parsed.data;
        ctx.addIssue({
          code: 'custom',
          message: `API_KEYS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        });
      } catch {
        ctx.addIssue({ code: 'custom', message: 'API_KEYS must be a JSON array of {role, actor, sha256}' });
      }
      return z.NEVER;
    }),

  /** Message transport: `file` writes each delivered message under DATA_DIR/mailbox; `smtp` uses SMTP_URL. */
  MAIL_TRANSPORT: z.enum(['file', 'smtp']).default('file'),
  SMTP_URL: z.string().url().optional(),
  MAIL_FROM: z.string().default('CRM <crm@localhost>'),
  /** Where people reach the public pages of the API (the unsubscribe link of marketing messages); default http://localhost:API_PORT. */
  PUBLIC_BASE_URL: z.string().url().optional(),
  MAILBOX_DIR: z.string().optional(),
  /**
   * SMS transport: `http` posts each SMS to SMS_GATEWAY_URL; `file` writes it to the mailbox like
   * e-mail. Unset: `file` while MAIL_TRANSPORT is `file`, else none, and the worker refuses to start.
   */
  SMS_TRANSPORT: z.enum(['file', 'http']).optional(),
  SMS_GATEWAY_URL: z.string().url().optional(),
  /** Bearer token of the gateway; or SMS_GATEWAY_USERNAME and SMS_GATEWAY_PASSWORD for basic auth. */
  SMS_GATEWAY_TOKEN: z.string().min(1).optional(),
  SMS_GATEWAY_USERNAME: z.string().min(1).optional(),
  SMS_GATEWAY_PASSWORD: z.string().optional(),
  /** A gateway request taking longer is abandoned and retried. */
  SMS_GATEWAY_TIMEOUT: duration
    .prefault('10 seconds')
    .pipe(z.number().min(100, 'SMS_GATEWAY_TIMEOUT must be at least 100 ms').max(120_000, 'SMS_GATEWAY_TIMEOUT must be at most 2 minutes')),
  /** The sender the gateway shows (a name or a number). */
  SMS_FROM: z.string().trim().min(1).max(20).default('CRM'),

  /** The embedded stack generates per-role development keys on first start. */
  DEV_KEYS: boolish.optional(),

  /** Retention campaigns: customers per page of a run (one continue-as-new each) and enrollment starts in flight. */
  RETENTION_PAGE_SIZE: z.coerce.number().int().min(10).max(5000).default(500),
  RETENTION_ENROLL_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(20),

  /**
   * Acquisition: the team (by name) whose active agents own new leads in turn, unless an intake
   * names a team or an owner; and the team whose agents become account managers of customers
   * who come without a lead owner (default: the lead team). `npm start` seeds the team Sales.
   */
  LEAD_TEAM: z.string().trim().min(1).max(100).default('Sales'),
  ACCOUNT_MANAGER_TEAM: z.string().trim().min(1).max(100).optional(),
  /** Who hears about a lead whose owner missed the contact SLA twice. */
  LEAD_ESCALATION_EMAIL: z.email().default('sales.backoffice@example.com'),
  /** Durations as Temporal accepts them ("2 days", "36 hours"). */
  LEAD_CONTACT_SLA: duration.prefault('2 days'),
  LEAD_IDLE_TO_NURTURE: duration.prefault('30 days'),
  LEAD_NURTURE_REACTIVATION: duration.prefault('90 days'),
  /**
   * The probability of closing a lead or opportunity in each stage (0 to 1), as JSON, e.g.
   * {"qualified":0.5,"proposal":0.7}; stages left out keep their defaults. A funnel keeps the table
   * it started with; the forecast is amount × probability.
   */
  STAGE_PROBABILITIES: z
    .string()
    .optional()
    .transform((raw, ctx): StageProbabilities => {
      if (!raw) return { ...DEFAULT_STAGE_PROBABILITIES };
      try {
        const parsed = z.partialRecord(z.enum(LEAD_STAGES), z.number().min(0, 'must be at least 0').max(1, 'must be at most 1')).safeParse(JSON.parse(raw));
        if (parsed.success) return { ...DEFAULT_STAGE_PROBABILITIES, ...parsed.data };
        ctx.addIssue({ code: 'custom', message: `STAGE_PROBABILITIES: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
      } catch {
        ctx.addIssue({ code: 'custom', message: `STAGE_PROBABILITIES must be a JSON object of stage → probability, stages: ${LEAD_STAGES.join(', ')}` });
      }
      return z.NEVER;
    }),
  ONBOARDING_FIRST_CONTACT_SLA: duration.prefault('3 days'),
  ONBOARDING_CHECK_IN_AFTER: duration.prefault('14 days'),

  /**
   * Outbound events (webhooks): a delivery failing for this long since it was queued (or
   * redelivered) is dead-lettered; retries back off exponentially from WEBHOOK_RETRY_INITIAL to
   * WEBHOOK_RETRY_MAX; a receiver answering slower than WEBHOOK_TIMEOUT failed; the delivery
   * workflows look for work every WEBHOOK_POLL_INTERVAL when no commit woke them.
   */
  WEBHOOK_DEAD_LETTER_AFTER: duration.prefault('3 days').pipe(z.number().min(1_000, 'WEBHOOK_DEAD_LETTER_AFTER must be at least 1 second')),
  WEBHOOK_TIMEOUT: duration.prefault('10 seconds').pipe(z.number().min(100).max(120_000, 'WEBHOOK_TIMEOUT must be at most 2 minutes')),
  WEBHOOK_RETRY_INITIAL: duration.prefault('5 seconds').pipe(z.number().min(100, 'WEBHOOK_RETRY_INITIAL must be at least 100 ms')),
  WEBHOOK_RETRY_MAX: duration.prefault('1 hour').pipe(z.number().min(100, 'WEBHOOK_RETRY_MAX must be at least 100 ms')),
  WEBHOOK_POLL_INTERVAL: duration.prefault('1 minute').pipe(z.number().min(1_000, 'WEBHOOK_POLL_INTERVAL must be at least 1 second')),

  /** Analytics: its own process, task queue, port and keys (JSON array of {actor, sha256}, role analyst). */
  ANALYTICS_HOST: z.string().default('0.0.0.0'),
  ANALYTICS_PORT: port.default(3001),
  ANALYTICS_TASK_QUEUE: z.string().min(1).default('crm-analytics'),
  ANALYTICS_API_KEYS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (!raw) return [] as Array<{ actor: string; sha256: string }>;
      try {
        const parsed = z.array(apiKeySchema.omit({ role: true })).safeParse(JSON.parse(raw));
        if (parsed.success) return parsed.data;
        ctx.addIssue({
          code: 'custom',
          message: `ANALYTICS_API_KEYS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        });
      } catch {
        ctx.addIssue({ code: 'custom', message: 'ANALYTICS_API_KEYS must be a JSON array of {actor, sha256}' });
      }
      return z.NEVER;
    }),
  /** How often the ingest schedule runs (a Temporal duration such as `1 minute`). */
  ANALYTICS_INGEST_EVERY: z
    .string()
    .regex(/^\d+\s*(s|sec|second|seconds|m|min|minute|minutes|h|hour|hours)$/, 'a duration such as "1 minute" or "30s"')
    .default('1 minute'),
  /** Histories fetched at once, and closed workflows taken per ingest transaction. */
  ANALYTICS_INGEST_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  ANALYTICS_INGEST_BATCH: z.coerce.number().int().min(1).max(1000).default(200),
  /** Re-read this far behind the watermark, for visibility stores that index close events late. */
  ANALYTICS_INGEST_OVERLAP_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),

  /**
   * Payload encryption (AES-256-GCM) of everything sent to Temporal: `id:base64key,...` (32-byte
   * keys). New payloads use PAYLOAD_KEY_ID (default: the last key); older keys stay for reading.
   * Unset in the embedded stack: a development key is generated under DATA_DIR.
   */
  PAYLOAD_KEYS: z.string().optional(),
  PAYLOAD_KEY_ID: z.string().optional(),
  /** The one browser origin allowed to call the codec endpoint (the Temporal UI); default the embedded UI's. */
  TEMPORAL_UI_ORIGIN: z.url().optional(),
  /**
   * Decode-only credentials of the codec endpoint (no API key works there): JSON array of
   * {name, sha256}; sent as `Authorization: Bearer <token>`; `name` is who the audit records.
   */
  CODEC_TOKENS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (!raw) return [] as Array<{ name: string; sha256: string }>;
      try {
        const parsed = z.array(z.object({ name: z.string().min(1).max(100), sha256: apiKeySchema.shape.sha256 })).safeParse(JSON.parse(raw));
        if (parsed.success) return parsed.data;
        ctx.addIssue({ code: 'custom', message: `CODEC_TOKENS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
      } catch {
        ctx.addIssue({ code: 'custom', message: 'CODEC_TOKENS must be a JSON array of {name, sha256}' });
      }
      return z.NEVER;
    }),
  /**
   * A codec listener on 127.0.0.1 only, for the local Temporal UI (which cannot send a credential):
   * `npm start` opens it on 3002; unset elsewhere.
   */
  CODEC_LOCAL_PORT: port.optional(),
  /**
   * Access tokens of the Temporal UI's OpenID Connect login as codec credentials (the UI forwards
   * them with TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true): the issuer, the audience the token must name,
   * the role it must carry (in a `roles` or `groups` claim, or the claims of CODEC_OIDC_ROLE_CLAIMS),
   * and the key set (default: the issuer's discovery document). Off unless CODEC_OIDC_ISSUER is set.
   */
  CODEC_OIDC_ISSUER: z.url().optional(),
  CODEC_OIDC_AUDIENCE: z.string().min(1).optional(),
  CODEC_OIDC_JWKS_URL: z.url().optional(),
  CODEC_OIDC_REQUIRED_ROLE: z.string().min(1).optional(),
  CODEC_OIDC_ROLE_CLAIMS: z.string().min(1).optional(),

  /** The key of the page tokens' MAC (at least 32 characters), the same on every API process; required outside development and test. */
  PAGE_TOKEN_SECRET: z.string().min(32, 'PAGE_TOKEN_SECRET must be at least 32 characters').optional(),
  /** Requests a minute per API key and per client address, counted in each API process (see README). */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(1).default(1200),
  /**
   * Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDR ranges);
   * none by default, so the client address is the TCP peer. See README, Security.
   */
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const entries = (raw ?? '')
        .split(',')
        .map((e) => e.trim())
        .filter((e) => e.length > 0);
      const problems = entries.map(proxyEntryProblem).filter((p): p is string => p !== undefined);
      if (problems.length > 0) {
        ctx.addIssue({ code: 'custom', message: `TRUSTED_PROXIES: ${problems.join('; ')}` });
        return z.NEVER;
      }
      return entries;
    }),

  /**
   * TLS to Temporal for every connection (client, worker, analytics): files in PEM. A client
   * certificate and key make it mutual TLS; a CA replaces the system roots; TEMPORAL_TLS=true
   * alone turns on TLS with the system roots.
   */
  TEMPORAL_TLS: boolish.optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),

  /** Master-data changes and GDPR requests (durations as Temporal accepts them, e.g. "24 hours"). */
  VERIFICATION_CODE_TTL: z.string().default('24 hours'),
  VERIFICATION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  VERIFICATION_RESEND_INTERVAL: z.string().default('1 minute'),
  VERIFICATION_MAX_RESENDS: z.coerce.number().int().min(0).max(20).default(3),
  APPROVAL_TIMEOUT: z.string().default('48 hours'),
  APPROVAL_EXPIRY: z.string().default('14 days'),
  ERASURE_GRACE_PERIOD: z.string().default('30 days'),
  EXPORT_RETENTION: z.string().default('7 days'),
  BACKOFFICE_EMAIL: z.string().default('backoffice@localhost'),
  /** After an e-mail or phone change: how long the old contact point can stop it, and GDPR requests need its confirmation too. */
  CONTACT_CHANGE_COOLING_OFF: z.string().default('7 days'),
});

/**
 * The page-token secret an API process seals with: PAGE_TOKEN_SECRET, required outside development
 * and test (where `npm start` and the test harness make one); undefined there when not set.
 */
export function pageTokenSecretOf(config: Pick<Config, 'env' | 'api'>): string | undefined {
  if (!config.api.pageTokenSecret && !['development', 'test'].includes(config.env)) {
    throw new Error(
      `Invalid configuration:\n  PAGE_TOKEN_SECRET: required when NODE_ENV=${config.env} (at least 32 random characters, the same for every API process)`,
    );
  }
  return config.api.pageTokenSecret;
}

/** Every environment variable the services read; docker-compose.yml is checked against it. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export type Config = ReturnType<typeof loadConfig>;

/**
 * The defaults, as if no variable were set: what tests and factories fall back to when nothing is
 * handed in. Reads no environment; entry points call `loadConfig()` once and hand settings down.
 */
export function defaultConfig(): Config {
  return loadConfig({});
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.MAIL_TRANSPORT === 'smtp' && !e.SMTP_URL) {
    throw new Error('Invalid configuration:\n  SMTP_URL: required when MAIL_TRANSPORT=smtp');
  }
  if (e.SMS_TRANSPORT === 'http' && !e.SMS_GATEWAY_URL) {
    throw new Error('Invalid configuration:\n  SMS_GATEWAY_URL: required when SMS_TRANSPORT=http');
  }
  if (!e.TEMPORAL_TLS_CERT !== !e.TEMPORAL_TLS_KEY) {
    throw new Error('Invalid configuration:\n  TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: give both (mutual TLS) or neither');
  }
  if (e.CODEC_OIDC_ISSUER && (!e.CODEC_OIDC_AUDIENCE || !e.CODEC_OIDC_REQUIRED_ROLE)) {
    throw new Error('Invalid configuration:\n  CODEC_OIDC_AUDIENCE, CODEC_OIDC_REQUIRED_ROLE: required when CODEC_OIDC_ISSUER is set');
  }
  const embedded = !e.DATABASE_URL && !e.TEMPORAL_ADDRESS;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    database: {
      url: e.DATABASE_URL,
      analyticsUrl: e.ANALYTICS_DATABASE_URL,
      embeddedPort: e.EMBEDDED_PG_PORT,
      embeddedBinDir: e.EMBEDDED_PG_BIN_DIR,
      poolMax: e.DATABASE_POOL_MAX,
    },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      versioning: {
        enabled: e.WORKER_VERSIONING === 'on',
        deploymentName: e.WORKER_DEPLOYMENT_NAME,
        buildId: e.WORKER_BUILD_ID,
        promote: e.WORKER_PROMOTE,
      },
      worker: {
        maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
        maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
        maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
        workflowPollers: e.WORKER_WORKFLOW_POLLERS,
        activityPollers: e.WORKER_ACTIVITY_POLLERS,
        eagerActivities: e.WORKER_EAGER_ACTIVITIES,
      },
      devPort: e.TEMPORAL_DEV_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      uiUrl: e.TEMPORAL_UI_URL,
      retentionMs: e.TEMPORAL_RETENTION,
      tls:
        e.TEMPORAL_TLS || e.TEMPORAL_TLS_CERT || e.TEMPORAL_TLS_CA || e.TEMPORAL_TLS_SERVER_NAME
          ? { certFile: e.TEMPORAL_TLS_CERT, keyFile: e.TEMPORAL_TLS_KEY, caFile: e.TEMPORAL_TLS_CA, serverName: e.TEMPORAL_TLS_SERVER_NAME }
          : undefined,
    },
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      keys: e.API_KEYS,
      idempotencyTtlMs: e.IDEMPOTENCY_TTL,
      pageTokenSecret: e.PAGE_TOKEN_SECRET,
      rateLimits: {
        perKey: e.RATE_LIMIT_PER_MINUTE,
        perAddress: e.RATE_LIMIT_PER_ADDRESS_PER_MINUTE,
        ...(e.TRUSTED_PROXIES.length > 0 ? { trustedProxies: e.TRUSTED_PROXIES } : {}),
      },
    },
    mail: {
      transport: e.MAIL_TRANSPORT,
      smtpUrl: e.SMTP_URL,
      from: e.MAIL_FROM,
      mailboxDir: e.MAILBOX_DIR ?? `${e.DATA_DIR}/mailbox`,
    },
    sms: {
      transport: e.SMS_TRANSPORT ?? (e.MAIL_TRANSPORT === 'file' ? ('file' as const) : undefined),
      from: e.SMS_FROM,
      gateway: e.SMS_GATEWAY_URL
        ? {
            url: e.SMS_GATEWAY_URL,
            token: e.SMS_GATEWAY_TOKEN,
            username: e.SMS_GATEWAY_USERNAME,
            password: e.SMS_GATEWAY_PASSWORD,
            timeoutMs: e.SMS_GATEWAY_TIMEOUT,
          }
        : undefined,
    },
    devKeys: e.DEV_KEYS ?? embedded,
    consent: { publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://localhost:${e.API_PORT}`).replace(/\/+$/, '') },
    retention: { pageSize: e.RETENTION_PAGE_SIZE, enrollConcurrency: e.RETENTION_ENROLL_CONCURRENCY },
    acquisition: {
      leadTeam: e.LEAD_TEAM,
      accountManagerTeam: e.ACCOUNT_MANAGER_TEAM ?? e.LEAD_TEAM,
      escalationEmail: e.LEAD_ESCALATION_EMAIL,
      contactSlaMs: e.LEAD_CONTACT_SLA,
      idleToNurtureMs: e.LEAD_IDLE_TO_NURTURE,
      nurtureReactivationMs: e.LEAD_NURTURE_REACTIVATION,
      stageProbabilities: e.STAGE_PROBABILITIES,
      firstContactSlaMs: e.ONBOARDING_FIRST_CONTACT_SLA,
      checkInAfterMs: e.ONBOARDING_CHECK_IN_AFTER,
    },
    codec: {
      keys: e.PAYLOAD_KEYS,
      activeKeyId: e.PAYLOAD_KEY_ID,
      namespace: e.TEMPORAL_NAMESPACE,
      uiOrigin: new URL(e.TEMPORAL_UI_ORIGIN ?? e.TEMPORAL_UI_URL ?? `http://localhost:${e.TEMPORAL_UI_PORT}`).origin,
      tokens: e.CODEC_TOKENS,
      localPort: e.CODEC_LOCAL_PORT ?? (embedded ? 3002 : undefined),
      oidc: e.CODEC_OIDC_ISSUER
        ? {
            issuer: e.CODEC_OIDC_ISSUER,
            audience: e.CODEC_OIDC_AUDIENCE!,
            requiredRole: e.CODEC_OIDC_REQUIRED_ROLE!,
            ...(e.CODEC_OIDC_JWKS_URL ? { jwksUrl: e.CODEC_OIDC_JWKS_URL } : {}),
            ...(e.CODEC_OIDC_ROLE_CLAIMS
              ? {
                  roleClaims: e.CODEC_OIDC_ROLE_CLAIMS.split(',')
                    .map((c) => c.trim())
                    .filter((c) => c.length > 0),
                }
              : {}),
          }
        : undefined,
    },
    masterData: {
      codeTtl: e.VERIFICATION_CODE_TTL,
      maxAttempts: e.VERIFICATION_MAX_ATTEMPTS,
      resendInterval: e.VERIFICATION_RESEND_INTERVAL,
      maxResends: e.VERIFICATION_MAX_RESENDS,
      approvalTimeout: e.APPROVAL_TIMEOUT,
      approvalExpiry: e.APPROVAL_EXPIRY,
      erasureGracePeriod: e.ERASURE_GRACE_PERIOD,
      exportRetention: e.EXPORT_RETENTION,
      backofficeEmail: e.BACKOFFICE_EMAIL,
      contactChangeCoolingOff: e.CONTACT_CHANGE_COOLING_OFF,
    },
    webhooks: {
      deadLetterAfterMs: e.WEBHOOK_DEAD_LETTER_AFTER,
      timeoutMs: e.WEBHOOK_TIMEOUT,
      retryInitialMs: e.WEBHOOK_RETRY_INITIAL,
      retryMaxMs: Math.max(e.WEBHOOK_RETRY_MAX, e.WEBHOOK_RETRY_INITIAL),
      pollMs: e.WEBHOOK_POLL_INTERVAL,
    },
    analytics: {
      host: e.ANALYTICS_HOST,
      port: e.ANALYTICS_PORT,
      taskQueue: e.ANALYTICS_TASK_QUEUE,
      keys: e.ANALYTICS_API_KEYS,
      ingestEvery: e.ANALYTICS_INGEST_EVERY,
      ingestConcurrency: e.ANALYTICS_INGEST_CONCURRENCY,
      ingestBatch: e.ANALYTICS_INGEST_BATCH,
      ingestOverlapSeconds: e.ANALYTICS_INGEST_OVERLAP_SECONDS,
    },
  };
}
