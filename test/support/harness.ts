/**
 * The one test harness: each test file gets its own PostgreSQL schema (migrated), its own task
 * queue with a real worker over real activities, a Temporal client, and the real Hono app with
 * one API key per role. Tests speak HTTP to the app through `app.request()`.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from './time-skipping.js';
import { createApi } from '../../src/api/app.js';
import { hashKey } from '../../src/api/auth.js';
import { bootstrapUsers } from '../../src/api/bootstrap.js';
import { defaultConfig, type Config } from '../../src/config.js';
import { insertApiKey } from '../../src/db/repositories/api-keys.js';
import { insertUser, type NewUser, type User } from '../../src/db/repositories/users.js';
import { DEV_USER_NAMES, devKeyEntries, generateDevKeys, type DevKeys, type DevUser } from '../../src/dev/dev-keys.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { KeyScan } from './key-scan.js';
import { FileTransport, mailboxFolder, type MessageTransport } from '../../src/notifications/transport.js';
import { createOperationalWorker } from '../../src/worker/worker.js';
import { startWebhookWakeup } from '../../src/worker/webhook-wakeup.js';
import { createDataConverter, generateKey, ShreddingPayloadCodec, SubjectKeyStore, type Keyring } from '../../src/codec/index.js';
import type { MasterDataPolicy } from '../../src/domain/master-data.js';
import { Contract } from './contract.js';

export interface RequestOptions {
  /** A seeded user (`agent`, `agent2`, `backoffice`, `admin`, `analyst`) or a key of its own; null: no Authorization header. */
  as?: DevUser | { key: string } | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface Harness {
  schema: string;
  taskQueue: string;
  pool: Pool;
  client: Client;
  api: ReturnType<typeof createApi>;
  /** An API key of each seeded user: one per role, and a second agent (`agent2`). */
  keys: DevKeys;
  /** The seeded users (team "Sales", led by the backoffice user), as `npm start` seeds them. */
  users: Record<DevUser, User>;
  /** The seeded team's id. */
  teamId: string;
  /** Another user (in the seeded team unless `teamId` says otherwise) with a key of their own. */
  createUser(u?: Partial<NewUser>): Promise<{ user: User; key: string }>;
  /** Another key for a user. */
  issueKey(userId: string, name?: string): Promise<string>;
  mailDir: string;
  worker: Worker;
  /** The decode-only codec token the harness's API accepts (CODEC_TOKENS). */
  codecToken: string;
  /** The payload keys of this harness: client, worker and codec endpoint encrypt with them. */
  keyring: Keyring;
  /** The per-person data keys (crypto-shredding) and the codec every client, worker and the codec endpoint use. */
  subjectKeys: SubjectKeyStore;
  payloadCodec: ShreddingPayloadCodec;
  /** Set when the harness runs on the time-skipping test server: `env.sleep('2 days')`. */
  env?: TestWorkflowEnvironment;
  /**
   * On the time-skipping server: a plain client and the same API over it. The time-skipping client
   * unlocks time whenever it waits for a result, and then the test server may jump past the moments
   * a test looks at; over this one, time moves only by `env.sleep()`.
   */
  plainApi(): { plain: Client; api: ReturnType<typeof createApi> };
  /** Another API over the harness's database, Temporal and task queue, with settings of its own (no keys, silent logs unless given). */
  apiWith(settings: Partial<Parameters<typeof createApi>[0]>): ReturnType<typeof createApi>;
  request(method: string, url: string, opts?: RequestOptions): Promise<Response>;
  /** The app's OpenAPI document, compiled; with `checkResponses` it holds the counts of checked responses. */
  contract(): Promise<Contract>;
  json<T = any>(method: string, url: string, opts?: RequestOptions): Promise<{ status: number; body: T; headers: Headers }>;
  mailbox(recipient: string): Promise<Array<{ id: string; template: string; subject: string; text: string; payload: Record<string, unknown> }>>;
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Replace the message transport (the file transport in a temp folder by default). */
  transport?: MessageTransport;
  resultWaitMs?: number;
  /** How long an Idempotency-Key is honoured (IDEMPOTENCY_TTL); the API's default when not given. */
  idempotencyTtlMs?: number;
  /** Verification, approval and GDPR timings of the worker (short ones test timers on the dev server). */
  masterDataPolicy?: MasterDataPolicy;
  /** Lead and onboarding timings and owners of the worker; the config defaults for what is left out. */
  acquisition?: Partial<Config['acquisition']>;
  /** Webhook delivery timings of the worker (dead-letter time, backoff, timeout, poll interval); the config defaults for what is left out. */
  webhooks?: Partial<Config['webhooks']>;
  /**
   * Run on the time-skipping test server instead of the shared dev server, for workflows whose
   * timers span days. Time skips whenever every workflow waits; `env.sleep()` moves it on.
   * The test server has no visibility queries over search attributes: list endpoints are tested
   * on the dev server.
   */
  timeSkipping?: boolean;
  /**
   * Check every response of `request`/`json` against /openapi.json (status declared, content
   * type, body schema); a mismatch fails the call, and so the test. On by default; off only
   * with CHECK_RESPONSES=0. What was checked is counted for the run's closing line.
   */
  checkResponses?: boolean;
  /** Payloads in clear (no codec on client and worker): for recording histories that replay without this harness's keys. */
  plainPayloads?: boolean;
}

/**
 * How long the API waits for a process's answer before it says 202 pending, in tests that do not
 * set it: long enough that a loaded CI machine still answers synchronously where a test expects
 * it (the API's own default is 10 s); tests of the pending path pass a short one.
 */
const TEST_RESULT_WAIT_MS = 30_000;

export function uniqueId(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export async function startHarness(name: string, opts: HarnessOptions = {}): Promise<Harness> {
  const pgUrl = inject('pgUrl');
  const address = inject('temporalAddress');
  const bundlePath = inject('workflowBundlePath');

  const schema = uniqueId(`t_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`);
  const taskQueue = `test-${schema}`;
  await migrate({ connectionString: pgUrl, schema });
  const pool = createPool({ connectionString: pgUrl, schema, max: 5 });
  const mailDir = await mkdtemp(path.join(os.tmpdir(), 'crm-mail-'));
  const transport = opts.transport ?? new FileTransport(mailDir);

  // Every payload is encrypted as in production, so tests see what Temporal stores.
  const keyring = generateKey(`test-${schema}`);
  // Personal data under per-person keys (crypto-shredding), as in production; an erasure's NOTIFY empties the cache.
  // Its own connections: a key lookup never waits behind a caller that holds one of the pool's.
  const keyPool = createPool({ connectionString: pgUrl, schema, max: 2 });
  const subjectKeys = new SubjectKeyStore(keyPool, keyring);
  const keyListener = new pg.Client({ connectionString: pgUrl });
  keyListener.on('error', () => undefined);
  await keyListener.connect();
  const stopKeyListener = await subjectKeys.listen(keyListener);
  const payloadCodec = new ShreddingPayloadCodec(keyring, subjectKeys);
  const dataConverter = opts.plainPayloads ? undefined : createDataConverter(keyring, payloadCodec);
  const env = opts.timeSkipping ? await createTimeSkippingEnv({ dataConverter }) : undefined;
  const connection = env ? env.connection : await Connection.connect({ address });
  const client = env ? env.client : new Client({ connection, namespace: 'default', dataConverter });
  const nativeConnection = env ? env.nativeConnection : await NativeConnection.connect({ address });

  // Settings as an entry point hands them down from the config module: never through process.env.
  const defaults = defaultConfig();
  const settings = {
    acquisition: { ...defaults.acquisition, ...opts.acquisition },
    masterData: opts.masterDataPolicy ?? defaults.masterData,
    webhooks: { ...defaults.webhooks, ...opts.webhooks },
  };
  let worker!: Worker;
  let running: Promise<void> | undefined;
  const startWorker = async () => {
    worker = await createOperationalWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: { codePath: bundlePath },
      pool,
      transport,
      dataConverter,
      settings,
    });
    running = worker.run();
  };
  const stopWorker = async () => {
    if (!running) return;
    worker.shutdown();
    await running;
    running = undefined;
  };
  await startWorker();
  // Committed events wake their subscriptions' delivery workflows, as in the worker service.
  const wakeup = await startWebhookWakeup({ connectionString: pgUrl, schema, client, taskQueue });

  // The users and keys of `npm start`, in this schema: keys resolve to users in the database.
  const keys = generateDevKeys('test');
  const keyEntries = devKeyEntries(keys);
  const seeded = await bootstrapUsers(pool, keyEntries);
  const users = Object.fromEntries(DEV_USER_NAMES.map((u, i) => [u, seeded[i]!])) as Record<DevUser, User>;
  const teamId = users.agent.teamId!;
  // Every secret this harness knows, scanned for in its responses and logs (./key-scan.ts).
  const scan = new KeyScan({ echo: process.env.TEST_LOG_LEVEL !== undefined });
  for (const [user, key] of Object.entries(keys)) scan.add(`the API key of ${user}`, key);
  for (const [id, k] of keyring.keys) for (const enc of ['base64', 'base64url', 'hex'] as const) scan.add(`payload key ${id}`, k.toString(enc));
  const issueKey = async (userId: string, name = 'test') => {
    const key = `test_${randomBytes(16).toString('hex')}`;
    scan.add('an API key issued by the test', key);
    await insertApiKey(pool, { userId, name, sha256: hashKey(key), prefix: key.slice(0, 9) });
    return key;
  };
  const createUser = async (u: Partial<NewUser> = {}) => {
    const id = randomBytes(4).toString('hex');
    const user = await insertUser(pool, { name: `User ${id}`, email: `user.${id}@example.com`, roles: ['agent'], teamId, ...u });
    return { user, key: await issueKey(user.id) };
  };
  // A decode-only codec credential and the page-token secret, made per harness as `npm start` makes them.
  const codecToken = `codec_${randomBytes(16).toString('hex')}`;
  const pageTokenSecret = randomBytes(32).toString('base64url');
  scan.add('the codec token', codecToken);
  scan.add('the page-token secret', pageTokenSecret);
  const apiOver = (temporal: Client, resultWaitMs: number | undefined = opts.resultWaitMs ?? TEST_RESULT_WAIT_MS) =>
    createApi({
      pool,
      temporal,
      taskQueue,
      logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'debug', 'crm', scan.apiLog),
      keys: keyEntries,
      resultWaitMs,
      payloadCodec,
      codecAccess: { namespace: 'default', uiOrigin: 'http://localhost:8233', tokens: [{ name: 'test-codec', sha256: hashKey(codecToken) }] },
      pageTokenSecret,
      // High enough that no test trips it; test/security.test.ts tests the limits with its own API.
      rateLimits: { perKey: 1_000_000, perAddress: 1_000_000 },
      idempotencyTtlMs: opts.idempotencyTtlMs,
    });
  const api = apiOver(client);

  const checkResponses = opts.checkResponses ?? process.env.CHECK_RESPONSES !== '0';
  let loaded: Promise<Contract> | undefined;
  const contract = () => (loaded ??= Contract.load(api));
  const request = (method: string, url: string, o: RequestOptions = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const as = o.as === undefined ? 'agent' : o.as;
    if (as) headers.authorization ??= `Bearer ${typeof as === 'string' ? keys[as] : as.key}`;
    let body: string | undefined = o.rawBody;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = Promise.resolve(api.request(url, { method, headers, body })).then(async (r) => {
      await scan.response(method, url, r);
      return r;
    });
    if (!checkResponses) return res;
    return res.then(async (r) => {
      await (await contract()).check(method, url, r);
      return r;
    });
  };

  return {
    schema,
    taskQueue,
    pool,
    client,
    api,
    keys,
    users,
    teamId,
    createUser,
    issueKey,
    mailDir,
    codecToken,
    keyring,
    subjectKeys,
    payloadCodec,
    env,
    plainApi() {
      if (!env) throw new Error('plainApi() is for harnesses on the time-skipping server');
      const plain = new Client({ connection: env.connection, dataConverter: createDataConverter(keyring, payloadCodec) });
      // The API's own wait for a result: over this client a wait does not move time.
      return { plain, api: apiOver(plain, opts.resultWaitMs) };
    },
    apiWith(settings) {
      return createApi({
        pool,
        temporal: client,
        taskQueue,
        logger: createLogger('silent'),
        keys: [],
        pageTokenSecret: 'one-secret-of-this-deployment-0123456789',
        ...settings,
      });
    },
    get worker() {
      return worker;
    },
    request,
    contract,
    async json(method, url, o) {
      const res = await request(method, url, o);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async mailbox(recipient) {
      const dir = path.join(mailDir, mailboxFolder(recipient));
      const files = await readdir(dir).catch(() => [] as string[]);
      return Promise.all(files.filter((f) => f.endsWith('.json')).map(async (f) => JSON.parse(await readFile(path.join(dir, f), 'utf8'))));
    },
    stopWorker,
    startWorker,
    async close() {
      if (checkResponses && loaded) await recordChecked(await loaded);
      await wakeup.stop();
      await stopWorker();
      await stopKeyListener();
      await keyPool.end();
      if (env) {
        await env.teardown();
      } else {
        await nativeConnection.close();
        await connection.close();
      }
      await pool.end();
      const scanned = scan.finish();
      const tally = inject('keyScanTally');
      const counts = { responses: scan.responses, logLines: scanned.logLines, secrets: scanned.secrets, findings: scanned.findings.length };
      if (tally) await appendFile(tally, `${JSON.stringify(counts)}\n`);
      if (scanned.findings.length > 0)
        throw new Error(`Key scan: ${scanned.findings.length} secrets in clear:\n  ${[...new Set(scanned.findings)].join('\n  ')}`);
    },
  } as Harness;
}

/** Adds this harness's checked responses to the run's tally (printed when the run ends). */
async function recordChecked(contract: Contract): Promise<void> {
  const line = JSON.stringify({ checked: Object.fromEntries(contract.checked) });
  await appendFile(inject('contractTally'), `${line}\n`);
}

/** Polls an observable condition (a row, a file) until it holds; for effects of other processes. */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, { timeoutMs = 20_000, intervalMs = 100 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
