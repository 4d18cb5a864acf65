// The ceiling for target 1: a bare node:http server answering a fixed JSON body of the given size.
// usage: node bench/bare-server.mjs <bytes> ; prints the URL once listening.
import { createServer } from 'node:http';

const size = Math.max(16, Number(process.argv[2] ?? 400));
const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(size - 10) }));
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
