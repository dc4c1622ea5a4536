// The cheapest plugin a Bun-compiled executable can be: read stdin, print a fixed ADD result,
// exit. Compiled like bin/thereabouts and run on the same harness, it shows what process start-up
// alone costs at a given concurrency: the floor under any plugin shipped this way.
import { readSync, writeSync } from "node:fs";

const buffer = Buffer.allocUnsafe(64 * 1024);
try {
  while (readSync(0, buffer, 0, buffer.length, null) > 0);
} catch {
  // EOF or EAGAIN: the input does not matter here
}
writeSync(1, '{"cniVersion":"1.0.0","ips":[{"address":"198.18.0.1/22"}]}');
process.exit(0);
