'use strict';
// The floor for bench/serve: bare node:http reading the body and answering a constant JSON of the same size
// as ours, with the same number of processes (node:cluster). No parsing, no model: what Node's HTTP stack
// alone costs under the same load generator on the same cores.
//   node bench/reference/floor.js <port> <workers> <response-bytes>
const cluster = require('node:cluster');
const http = require('node:http');

const [port, workers, bytes] = process.argv.slice(2).map(Number);
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const body = JSON.stringify({ predictions: 'x'.repeat(Math.max(0, bytes - 18)) });
  http
    .createServer((req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
    })
    .listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
