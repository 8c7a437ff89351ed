// Reference: a Node.js `net` echo server. Usage: node node_echo.js --port 0
'use strict';
const net = require('net');

const portArg = process.argv.indexOf('--port');
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0;

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.pipe(socket); // pipe() pauses reading while the write side is full: backpressure
  socket.on('error', () => socket.destroy());
});
server.listen({ host: '127.0.0.1', port, backlog: 1024 }, () => {
  process.stdout.write(`READY 127.0.0.1:${server.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
