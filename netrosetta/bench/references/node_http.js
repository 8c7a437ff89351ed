// Reference: a Node.js `http` server answering with the URL asked for. Usage: node node_http.js --port 0
'use strict';
const http = require('http');

const portArg = process.argv.indexOf('--port');
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0;

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(req.url) });
  res.end(req.url);
});
// Node closes an idle keep-alive connection after 5 s by default; nginx waits 75 s and our
// implementations 60 s. The memory scenario holds 10,000 connections open while the last ones are
// still being opened, so this reference waits as long as nginx does.
server.keepAliveTimeout = 75_000;
server.listen({ host: '127.0.0.1', port, backlog: 1024 }, () => {
  process.stdout.write(`READY 127.0.0.1:${server.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
