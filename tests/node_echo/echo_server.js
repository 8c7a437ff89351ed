// A TCP echo server in Node.js, written from conformance/SPEC.md alone (sections L and E): the
// README's "bring your own server" example, and tests/test_bring_your_own.py runs the suite on it.
//
//   node --max-semi-space-size=1 echo_server.js echo [--host H] [--port P] [--quiet]
//
// It serves echo only: any other behaviour is a usage error (status 2), which the suite counts as
// not applicable. Node runs threads of its own, so L9 (one thread) is declared not applicable.
// --max-semi-space-size=1: V8 lets its young generation grow to 16 MiB or more before collecting
// it, so after 3,000 connections RSS has grown by 10 MiB of garbage; E9 allows 8 MiB of growth, and
// a 1 MiB young generation keeps it flat at no measurable cost for an echo.
"use strict";

const net = require("net");

const BEHAVIOURS = ["echo", "multiport", "urlecho"];

function usage(message) {
  process.stderr.write(`echo_server.js: error: ${message}\n`);
  process.exit(2);
}

function parse(argv) {
  const options = { host: "127.0.0.1", port: 8000, quiet: false };
  const [behaviour, ...rest] = argv;
  if (!BEHAVIOURS.includes(behaviour)) usage(`unknown behaviour ${JSON.stringify(behaviour)}`);
  if (behaviour !== "echo") usage(`this server does not serve ${behaviour}`);
  for (let i = 0; i < rest.length; i++) {
    const option = rest[i];
    if (option === "--quiet") {
      options.quiet = true;
    } else if (option === "--host" || option === "--port") {
      const value = rest[++i];
      if (value === undefined) usage(`${option} needs a value`);
      if (option === "--host") {
        options.host = value;
      } else if (!/^\d+$/.test(value) || Number(value) > 65535) {
        usage(`not a port number 0-65535: ${JSON.stringify(value)}`);
      } else {
        options.port = Number(value);
      }
    } else {
      usage(`unknown option ${JSON.stringify(option)}`);
    }
  }
  return options;
}

function address(host, port) {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

const options = parse(process.argv.slice(2));
const log = options.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`);
const clients = new Set();

// allowHalfOpen: after the client's FIN, keep sending what is owed (E3); pipe() ends our side
// once it is all written, and pauses reading while the client does not read (E7's backpressure).
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  clients.add(socket);
  socket.on("close", () => clients.delete(socket));
  socket.on("error", () => socket.destroy()); // a reset client (E8) concerns nobody else
  socket.pipe(socket);
});

server.on("error", (error) => {
  const reason = error.code === "EADDRINUSE" ? "address already in use" : error.message;
  process.stderr.write(`cannot listen on ${address(options.host, options.port)}: ${reason}\n`);
  process.exit(1);
});

function stop() {
  server.close();
  for (const socket of clients) socket.destroy();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

server.listen({ host: options.host, port: options.port, backlog: 1024 }, () => {
  process.stdout.write(`READY ${address(options.host, server.address().port)}\n`);
  log(`echo listening on ${address(options.host, server.address().port)}`);
});
