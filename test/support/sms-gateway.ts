/**
 * A local SMS gateway for tests: a real node:http server speaking the gateway JSON of README
 * ("SMS"). It records every request (headers and body) and answers as told: by default 202, or a
 * queue of statuses per number (`respond('+4915…', 503, 503)` fails twice, then accepts).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SmsGatewayRequest } from '../../src/notifications/transport.js';

export interface GatewayRequest {
  headers: IncomingHttpHeaders;
  body: SmsGatewayRequest;
  status: number;
}

export interface SmsGatewayStub {
  url: string;
  requests: GatewayRequest[];
  /** What the gateway answers for a number, request by request; afterwards 202. */
  respond(to: string, ...statuses: number[]): void;
  /** The SMS the gateway accepted for a number. */
  accepted(to: string): SmsGatewayRequest[];
  close(): Promise<void>;
}

export async function startSmsGateway(opts: { token?: string } = {}): Promise<SmsGatewayStub> {
  const requests: GatewayRequest[] = [];
  const planned = new Map<string, number[]>();
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}') as SmsGatewayRequest;
      const authorized = !opts.token || req.headers.authorization === `Bearer ${opts.token}`;
      const status = authorized ? (planned.get(body.to)?.shift() ?? 202) : 401;
      requests.push({ headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status < 300
            ? { id: `gw-${requests.length}` }
            : { error: status === 400 ? `not a reachable number: ${body.to}` : status === 401 ? 'wrong token' : 'gateway busy' },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/messages`,
    requests,
    respond: (to, ...statuses) => planned.set(to, statuses),
    accepted: (to) => requests.filter((r) => r.body.to === to && r.status < 300).map((r) => r.body),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
