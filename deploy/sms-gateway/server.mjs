/* global process, console */
// A stand-in SMS gateway for the compose setup: it speaks the gateway JSON of README ("SMS"),
// sends nothing, prints each SMS as a JSON line (`docker compose logs sms-gateway`) and lists the
// last 100 at GET /messages. A real gateway (or an adapter to one) takes its place by
// SMS_GATEWAY_URL and SMS_GATEWAY_TOKEN. Numbers must be E.164 (`+` and 8 to 15 digits): any
// other is refused with 400, as a real gateway refuses a number it cannot reach.
import { createServer } from 'node:http';

const token = process.env.SMS_GATEWAY_TOKEN ?? '';
const port = Number(process.env.PORT ?? 8080);
const kept = [];

const answer = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/messages') return answer(res, 200, kept);
  if (req.method !== 'POST' || req.url !== '/messages') return answer(res, 404, { error: 'POST /messages' });
  if (token && req.headers.authorization !== `Bearer ${token}`) return answer(res, 401, { error: 'wrong or missing bearer token' });
  let raw = '';
  req.on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    let sms;
    try {
      sms = JSON.parse(raw);
    } catch {
      return answer(res, 400, { error: 'the body is no JSON' });
    }
    if (typeof sms.to !== 'string' || !/^\+\d{8,15}$/.test(sms.to)) return answer(res, 400, { error: `not an E.164 number: ${sms.to}` });
    if (typeof sms.text !== 'string' || !sms.text) return answer(res, 400, { error: 'text is missing' });
    const accepted = { ...sms, gatewayId: `stub-${kept.length + 1}`, receivedAt: new Date().toISOString() };
    kept.push(accepted);
    if (kept.length > 100) kept.shift();
    console.log(JSON.stringify(accepted));
    answer(res, 202, { id: accepted.gatewayId });
  });
}).listen(port, () => console.log(`sms gateway stub on :${port}`));
