/**
 * Where messages leave the system: one transport per channel. E-mail goes by SMTP or to the file
 * mailbox; SMS by an HTTP SMS gateway or to the same mailbox. The file transport is the embedded
 * default (a local mailbox a developer can read). `ChannelTransports` hands each message to its
 * channel's transport; a channel without one is refused when the worker starts, not at sending.
 *
 * A failure no retry can mend (a number or mailbox the other side refuses for good) is a
 * non-retryable `RecipientInvalid`; anything else (a timeout, a 5xx, a refused connection) is a
 * plain error that the delivery's retry policy retries.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { PERMANENT_FAILURE, permanentFailure } from '../domain/refusals.js';

export interface OutboundMessage {
  id: string;
  channel: 'email' | 'sms';
  recipient: string;
  template: string;
  subject: string;
  text: string;
  payload: Record<string, unknown>;
  createdAt: string;
  /** Extra e-mail headers, e.g. `List-Unsubscribe` and `List-Unsubscribe-Post` of a marketing message. */
  headers?: Record<string, string>;
}

export interface MessageTransport {
  readonly name: string;
  send(message: OutboundMessage): Promise<void>;
  close?(): Promise<void>;
  /**
   * GDPR erasure: removes what this transport still keeps of messages to these recipients (e-mail
   * addresses, phone numbers); returns how many messages it removed. A transport that hands mail on
   * (SMTP, an SMS gateway) keeps nothing and has none: what was delivered cannot be recalled.
   */
  erase?(recipients: string[]): Promise<number>;
}

/** A recipient as one safe folder name (no separators, no dot-dot). */
export function mailboxFolder(recipient: string): string {
  const cleaned = recipient
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9@._+-]/g, '_');
  return cleaned.replace(/^\.+/, '_') || '_';
}

export class FileTransport implements MessageTransport {
  readonly name = 'file';
  constructor(private readonly dir: string) {}

  async send(message: OutboundMessage): Promise<void> {
    const folder = path.join(this.dir, mailboxFolder(message.recipient));
    await mkdir(folder, { recursive: true });
    const file = path.join(folder, `${message.id}.json`);
    // Write-then-rename: a reader never sees half a message, and a retry overwrites the same file.
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ ...message, deliveredAt: new Date().toISOString() }, null, 2), { mode: 0o600 });
    await rename(tmp, file);
  }

  /** Deletes the recipients' mailbox folders, every message in them. */
  async erase(recipients: string[]): Promise<number> {
    let removed = 0;
    for (const recipient of new Set(recipients.filter(Boolean).map(mailboxFolder))) {
      const folder = path.join(this.dir, recipient);
      removed += (await readdir(folder).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).length;
      await rm(folder, { recursive: true, force: true });
    }
    return removed;
  }
}

export class SmtpTransport implements MessageTransport {
  readonly name = 'smtp';
  private readonly transporter: Transporter;
  constructor(
    url: string,
    private readonly from: string,
  ) {
    this.transporter = nodemailer.createTransport(url);
  }

  async send(message: OutboundMessage): Promise<void> {
    if (message.channel !== 'email') {
      throw permanentFailure(PERMANENT_FAILURE.noTransport, `the SMTP transport delivers e-mail only, not ${message.channel}`);
    }
    try {
      await this.transporter.sendMail({
        from: this.from,
        to: message.recipient,
        subject: message.subject,
        text: message.text,
        messageId: `<${message.id}@crm.local>`,
        headers: { ...message.headers, 'X-CRM-Message-Id': message.id, 'X-CRM-Template': message.template },
      });
    } catch (err) {
      throw smtpFailure(err);
    }
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

/**
 * SMTP's verdict on a recipient: 550/551/553 (no such mailbox, not local, bad address syntax) and
 * nodemailer's EENVELOPE (no valid recipient) say the address will never take mail; 4xx and
 * connection failures pass with time.
 */
export function smtpFailure(err: unknown): unknown {
  const e = err as { responseCode?: number; code?: string; message?: string };
  const permanent = e?.code === 'EENVELOPE' || (e?.responseCode !== undefined && [550, 551, 553].includes(e.responseCode));
  return permanent ? permanentFailure(PERMANENT_FAILURE.recipientInvalid, `the mail server refused the recipient: ${e.message ?? e.code}`) : err;
}

export interface SmsGatewayOptions {
  /** The gateway's send endpoint (POST, JSON). */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Basic auth instead of a token. */
  username?: string;
  password?: string;
  /** The sender name or number the gateway shows. */
  from: string;
  /** A request that takes longer is abandoned and retried. */
  timeoutMs: number;
}

/** The JSON body the gateway receives (README, "SMS"). */
export interface SmsGatewayRequest {
  /** Our message id: the gateway's idempotency key, so a retried request sends one SMS. */
  id: string;
  to: string;
  from: string;
  text: string;
}

/**
 * An HTTP SMS gateway: `POST url` with `SmsGatewayRequest` as JSON and an `Idempotency-Key`
 * header (the message id). 2xx: accepted (the body, `{"id": "<gateway id>"}`, is not needed).
 * 4xx other than 401, 403, 408 and 429: the gateway refuses this message for good (a malformed or
 * unknown number): `RecipientInvalid`, with the gateway's `error`/`message` as the reason. 401,
 * 403 (credentials), 408, 429, 5xx, timeouts and connection errors: retried by the delivery's
 * retry policy (bounded: three days).
 */
export class HttpSmsTransport implements MessageTransport {
  readonly name = 'sms-http';
  constructor(private readonly opts: SmsGatewayOptions) {}

  async send(message: OutboundMessage): Promise<void> {
    if (message.channel !== 'sms') {
      throw permanentFailure(PERMANENT_FAILURE.noTransport, `the SMS gateway delivers SMS only, not ${message.channel}`);
    }
    const body: SmsGatewayRequest = { id: message.id, to: message.recipient, from: this.opts.from, text: message.text };
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': message.id };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    else if (this.opts.username !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}`;
    let response: Response;
    try {
      response = await fetch(this.opts.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs} ms` : (e.cause as Error | undefined)?.message || e.message;
      throw new Error(`the SMS gateway could not be reached: ${why}`, { cause: err });
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    const reason = await gatewayReason(response);
    if (response.status >= 400 && response.status < 500 && !RETRYABLE_4XX.has(response.status)) {
      throw permanentFailure(PERMANENT_FAILURE.recipientInvalid, `the SMS gateway refused the message (${response.status}): ${reason}`);
    }
    throw new Error(`the SMS gateway failed (${response.status}): ${reason}`);
  }
}

/**
 * 4xx answers that are no verdict on the message: wrong credentials (401, 403: fixed in the
 * configuration, after which the retries pass), a timeout (408), rate limiting (429).
 */
const RETRYABLE_4XX = new Set([401, 403, 408, 429]);

/** The gateway's own words for a refusal (`error` or `message` of its JSON body, else its text), short. */
async function gatewayReason(response: Response): Promise<string> {
  const text = (await response.text().catch(() => '')).slice(0, 2000);
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    const said = parsed.error ?? parsed.message;
    if (typeof said === 'string' && said) return said.slice(0, 300);
  } catch {
    // not JSON: its text
  }
  return text.trim().slice(0, 300) || response.statusText || 'no reason given';
}

export const CHANNELS = ['email', 'sms'] as const;
export type MessageChannel = (typeof CHANNELS)[number];

/** The transport of each channel: a message goes to its channel's. */
export class ChannelTransports implements MessageTransport {
  readonly name: string;
  constructor(private readonly byChannel: Partial<Record<MessageChannel, MessageTransport>>) {
    this.name = CHANNELS.filter((c) => byChannel[c])
      .map((c) => `${c}:${byChannel[c]!.name}`)
      .join(',');
  }

  /** The channels of `required` that have no transport. */
  missing(required: readonly MessageChannel[] = CHANNELS): MessageChannel[] {
    return required.filter((c) => !this.byChannel[c]);
  }

  async send(message: OutboundMessage): Promise<void> {
    const transport = this.byChannel[message.channel];
    if (!transport) throw permanentFailure(PERMANENT_FAILURE.noTransport, `no transport is configured for ${message.channel}`);
    await transport.send(message);
  }

  async erase(recipients: string[]): Promise<number> {
    let removed = 0;
    for (const t of new Set(Object.values(this.byChannel))) removed += (await t.erase?.(recipients)) ?? 0;
    return removed;
  }

  async close(): Promise<void> {
    // One transport may serve two channels (the file mailbox): close each once.
    for (const t of new Set(Object.values(this.byChannel))) await t.close?.();
  }
}

export interface TransportSettings {
  mail: { transport: 'file' | 'smtp'; smtpUrl?: string; from: string; mailboxDir: string };
  sms: { transport?: 'file' | 'http'; gateway?: Omit<SmsGatewayOptions, 'from'>; from: string };
}

/**
 * The transports the configuration chooses, one per channel. Every channel the processes use
 * must have one (they send e-mail and SMS: verification codes to a new phone number, campaign
 * SMS): a missing one is an error here, at worker start, with what to set.
 */
export function createTransport(cfg: TransportSettings): ChannelTransports {
  const file = new FileTransport(cfg.mail.mailboxDir);
  const email: MessageTransport | undefined =
    cfg.mail.transport === 'smtp'
      ? (() => {
          if (!cfg.mail.smtpUrl) throw new Error('SMTP_URL is required for the smtp transport');
          return new SmtpTransport(cfg.mail.smtpUrl, cfg.mail.from);
        })()
      : file;
  let sms: MessageTransport | undefined;
  if (cfg.sms.transport === 'http') {
    if (!cfg.sms.gateway?.url) throw new Error('SMS_GATEWAY_URL is required for SMS_TRANSPORT=http');
    sms = new HttpSmsTransport({ ...cfg.sms.gateway, from: cfg.sms.from });
  } else if (cfg.sms.transport === 'file') sms = file;
  const transports = new ChannelTransports({ email, sms });
  const missing = transports.missing();
  if (missing.length > 0) {
    throw new Error(
      `No message transport for ${missing.join(', ')}: the processes send ${missing.join(' and ')} (verification codes to a new phone number, campaign SMS). ` +
        'Set SMS_TRANSPORT=http with SMS_GATEWAY_URL (and SMS_GATEWAY_TOKEN or SMS_GATEWAY_USERNAME/SMS_GATEWAY_PASSWORD), or SMS_TRANSPORT=file for development.',
    );
  }
  return transports;
}
