/**
 * Where messages leave the system. The file transport is the embedded default (a local mailbox
 * a developer can read); SMTP is for real use. Tests use the file transport in a temp folder.
 */
import { mkdir, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';

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
      throw new Error(`the SMTP transport delivers e-mail only, not ${message.channel}`);
    }
    await this.transporter.sendMail({
      from: this.from,
      to: message.recipient,
      subject: message.subject,
      text: message.text,
      messageId: `<${message.id}@crm.local>`,
      headers: { ...message.headers, 'X-CRM-Message-Id': message.id, 'X-CRM-Template': message.template },
    });
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

export function createTransport(cfg: { transport: 'file' | 'smtp'; smtpUrl?: string; from: string; mailboxDir: string }): MessageTransport {
  if (cfg.transport === 'smtp') {
    if (!cfg.smtpUrl) throw new Error('SMTP_URL is required for the smtp transport');
    return new SmtpTransport(cfg.smtpUrl, cfg.from);
  }
  return new FileTransport(cfg.mailboxDir);
}
