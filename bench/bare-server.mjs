// The ceiling for target 1: a bare node:http server answering a fixed JSON body of the given size.
// usage: node bench/bare-server.mjs <bytes> [headers.json] ; prints the URL once listening.
// With a headers file (name → value), it also sends those headers and a fresh X-Request-Id per response: the same
// response head as the service, to show what the head alone costs.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const size = Math.max(16, Number(process.argv[2] ?? 400));
const extra = process.argv[3] ? JSON.parse(readFileSync(process.argv[3], 'utf8')) : null;
const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(size - 10) }));
const server = createServer((req, res) => {
  const head = { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length };
  res.writeHead(200, extra ? { ...extra, 'x-request-id': randomUUID(), ...head } : head);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
