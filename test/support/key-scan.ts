/**
 * The suite's key scan (issue 14, "Done when": no key in logs or responses). Every harness
 * collects the secrets it knows (its users' API keys, the codec token, the page-token secret, the
 * payload keys, and every API key or webhook secret an API response issued) and scans, for each of
 * them in clear: every response body and header its `request`/`json` saw, every line its API logged,
 * and every line the worker runtime logged in this test process. A secret may appear in exactly one
 * place: the field of the response that issues it (`key` of a new API key, `secret` of a new or
 * rotated webhook subscription). `close()` fails the test file naming each finding; the run's
 * closing line counts what was scanned.
 */
import { Writable } from 'node:stream';

/** Responses that hand a secret out once, by design: the field that carries it. */
const ISSUING: Array<{ method: string; path: RegExp; field: string; name: string }> = [
  { method: 'POST', path: /^\/v1\/users\/[^/]+\/keys$/, field: 'key', name: 'an issued API key' },
  { method: 'POST', path: /^\/v1\/webhooks$/, field: 'secret', name: 'a webhook secret' },
  { method: 'POST', path: /^\/v1\/webhooks\/[^/]+\/secret$/, field: 'secret', name: 'a webhook secret' },
];

/** Shorter values are no credential of this system, and would match by chance. */
const MIN_SECRET_LENGTH = 16;

/** What the worker runtime logged in this test process (test/support/quiet-runtime.ts fills it). */
export const workerLogLines: string[] = ((globalThis as { __crmWorkerLog?: string[] }).__crmWorkerLog ??= []);

export class KeyScan {
  private readonly secrets = new Map<string, string>();
  readonly findings: string[] = [];
  readonly apiLogLines: string[] = [];
  responses = 0;
  private readonly workerLogStart = workerLogLines.length;

  /** A pino destination that keeps the API's log lines for the scan (and prints them with `echo`, as TEST_LOG_LEVEL asks). */
  readonly apiLog: Writable;

  constructor(opts: { echo?: boolean } = {}) {
    this.apiLog = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.apiLogLines.push(chunk.toString('utf8'));
        if (opts.echo) process.stdout.write(chunk);
        done();
      },
    });
  }

  add(name: string, value: string | undefined): void {
    if (value && value.length >= MIN_SECRET_LENGTH && !this.secrets.has(value)) this.secrets.set(value, name);
  }

  private scan(where: string, text: string): void {
    for (const [value, name] of this.secrets) if (text.includes(value)) this.findings.push(`${name} in clear in ${where}`);
  }

  /** Scans one response; learns the secret an issuing response hands out, which may stand in that one field only. */
  async response(method: string, url: string, res: Response): Promise<void> {
    this.responses++;
    const where = `the response to ${method} ${url} (${res.status})`;
    this.scan(`a header of ${where}`, [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n'));
    let text = await res.clone().text();
    const path = url.split('?')[0]!;
    const issuing = ISSUING.find((i) => i.method === method && i.path.test(path));
    if (issuing && res.ok) {
      const body = JSON.parse(text) as Record<string, unknown>;
      const issued = body[issuing.field];
      if (typeof issued === 'string') {
        delete body[issuing.field];
        text = JSON.stringify(body);
        this.add(issuing.name, issued);
        this.scan(`the body of ${where}`, text);
        return;
      }
    }
    this.scan(`the body of ${where}`, text);
  }

  /** Scans the logs; the findings of the whole harness, empty when nothing leaked. */
  finish(): { findings: string[]; logLines: number; secrets: number } {
    this.apiLogLines.forEach((line, i) => this.scan(`API log line ${i + 1}`, line));
    const worker = workerLogLines.slice(this.workerLogStart);
    worker.forEach((line, i) => this.scan(`worker log line ${i + 1}`, line));
    return { findings: this.findings, logLines: this.apiLogLines.length + worker.length, secrets: this.secrets.size };
  }
}
