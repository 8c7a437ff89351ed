// Reference fetch client for the benchmark: Node.js's built-in fetch (undici, keep-alive pool).
// `node node_fetch.js CONCURRENCY URLS_FILE`: GET every URL of the file (one a line), CONCURRENCY
// at a time, and print `STATUS BODY-BYTES URL` per URL in input order, as netrosetta's fetch does.
"use strict";
const fs = require("fs");

async function main() {
  const concurrency = Number(process.argv[2]);
  const urls = fs.readFileSync(process.argv[3], "utf8").split("\n").filter((line) => line.trim());
  const lines = new Array(urls.length);
  let next = 0;
  async function worker() {
    while (next < urls.length) {
      const index = next++;
      const response = await fetch(urls[index], { redirect: "manual" });
      const body = await response.arrayBuffer();
      lines[index] = `${response.status} ${body.byteLength} ${urls[index]}\n`;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(lines.join(""));
}

main();
