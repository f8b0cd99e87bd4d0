/**
 * A real HTTP receiver for webhook tests (node:http on a local port): records every POST with its
 * headers, body and arrival time; can go down (the port refuses connections, as a crashed
 * receiver does) and come back on the same port, or answer a status of the test's choosing.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; type: string; version: number; timestamp: string; data: Record<string, unknown> };
  receivedAt: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answer this status (default 204) for the requests the predicate picks; the others get 204. */
  answer(status: number | ((r: Received) => number)): void;
  /** Closes the port: connections are refused until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let status: number | ((r: Received) => number) = 204;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r: Received = { headers: req.headers, body, json: JSON.parse(body), receivedAt: Date.now() };
      const code = typeof status === 'function' ? status(r) : status;
      if (code >= 200 && code < 300) received.push(r);
      res.statusCode = code;
      res.end();
    });
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    answer(s) {
      status = s;
    },
    down: stop,
    up: () => listen(port),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
