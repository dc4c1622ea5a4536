// `npm run bench`: runs every benchmark and rewrites docs/benchmarks.md with date and machine.
// Ratios within one run are what to compare: these machines are noisy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchEtcd } from "./etcd.ts";
import { benchImage } from "./image.ts";
import { benchKubernetes } from "./kubernetes.ts";
import { benchLocal } from "./local.ts";
import { machineLine } from "./machine.ts";
import { benchResilience } from "./resilience.ts";

const target = join(import.meta.dirname, "..", "docs", "benchmarks.md");
const workdir = mkdtempSync(join(tmpdir(), "thereabouts-bench-"));
try {
  // `npm run bench -- local` (or etcd, kubernetes, resilience, image) runs one section and prints it
  // instead of rewriting the file.
  const only = process.argv[2];
  const sections: string[] = [];
  if (only === undefined || only === "local") sections.push(await benchLocal(workdir));
  if (only === undefined || only === "etcd") sections.push(await benchEtcd());
  if (only === undefined || only === "kubernetes") sections.push(await benchKubernetes());
  if (only === undefined || only === "resilience") sections.push(await benchResilience());
  if (only === undefined || only === "image") sections.push(benchImage(workdir));
  const intro = readFileSync(join(import.meta.dirname, "intro.md"), "utf8");
  const text = `${intro}\nMeasured ${machineLine()}.\n\n${sections.join("\n")}`;
  if (only === undefined) {
    writeFileSync(target, text);
    process.stdout.write(`wrote ${target}\n`);
  } else {
    process.stdout.write(text);
  }
} finally {
  rmSync(workdir, { recursive: true, force: true });
}
