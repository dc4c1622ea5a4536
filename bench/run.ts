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
import { benchMultus } from "./multus.ts";
import { benchOccupancy } from "./occupancy.ts";
import { benchResilience } from "./resilience.ts";
import { benchScale } from "./scale.ts";
import { replaceIntro, replaceSection } from "./sections.ts";

/** Every section, in the order of the file; each returns its text, starting with its `## ` heading. */
const SECTIONS: readonly { name: string; run: (workdir: string) => Promise<string> | string }[] = [
  { name: "local", run: benchLocal },
  { name: "etcd", run: () => benchEtcd() },
  { name: "occupancy", run: benchOccupancy },
  { name: "kubernetes", run: () => benchKubernetes() },
  { name: "scale", run: () => benchScale() },
  { name: "resilience", run: () => benchResilience() },
  { name: "multus", run: benchMultus },
  { name: "image", run: benchImage },
];

const target = join(import.meta.dirname, "..", "docs", "benchmarks.md");
const workdir = mkdtempSync(join(tmpdir(), "thereabouts-bench-"));
try {
  // `npm run bench -- multus` (or any section's name) runs one section and prints it instead of
  // rewriting the file; `npm run bench -- multus --write` puts it in the file in place of the
  // section measured before, under a date line of its own (the file's stays with the rest).
  const [only, flag] = process.argv.slice(2);
  const chosen = SECTIONS.filter((s) => only === undefined || s.name === only);
  if (chosen.length === 0 || (flag !== undefined && flag !== "--write"))
    throw new Error(`usage: npm run bench [-- <${SECTIONS.map((s) => s.name).join("|")}> [--write]]`);
  const sections: string[] = [];
  for (const section of chosen) sections.push(await section.run(workdir));
  const measured = `Measured ${machineLine()}.`;
  const intro = readFileSync(join(import.meta.dirname, "intro.md"), "utf8");
  if (only === undefined) {
    writeFileSync(target, `${intro}\n${measured}\n\n${sections.join("\n")}`);
    process.stdout.write(`wrote ${target}\n`);
  } else if (flag === "--write") {
    const order = SECTIONS.map((s) => s.name);
    writeFileSync(
      target,
      replaceSection(
        replaceIntro(readFileSync(target, "utf8"), intro),
        sections[0]!,
        measured,
        order.indexOf(only),
      ),
    );
    process.stdout.write(`wrote the ${only} section of ${target}\n`);
  } else {
    process.stdout.write(`${intro}\n${measured}\n\n${sections.join("\n")}`);
  }
} finally {
  rmSync(workdir, { recursive: true, force: true });
}
