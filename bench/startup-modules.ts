// What a CNI call loads at start-up: the static import graph from the plugin entry (dynamic
// imports, used only by the command-line tools, are not followed). Reported in docs/benchmarks.md.
import { readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const STATIC_IMPORT = /^(?:import|export)\s+(?!type\b)[^;]*?from\s+"([^"]+)";/gms;

export interface StartupGraph {
  readonly modules: readonly string[];
  readonly bytes: number;
  readonly builtins: readonly string[];
  readonly packages: readonly string[];
}

export function startupGraph(entry = join(ROOT, "src", "main.ts")): StartupGraph {
  const seen = new Set<string>();
  const builtins = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(STATIC_IMPORT)) {
      const spec = match[1]!;
      if (spec.startsWith("node:")) builtins.add(spec);
      else if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  const modules = [...seen].map((f) => relative(ROOT, f)).sort();
  const bytes = [...seen].reduce((n, f) => n + statSync(f).size, 0);
  return { modules, bytes, builtins: [...builtins].sort(), packages: [...packages].sort() };
}

function describeGraph(what: string, entry: string): string[] {
  const g = startupGraph(join(ROOT, entry));
  const folders = new Map<string, number>();
  for (const m of g.modules) folders.set(dirname(m), (folders.get(dirname(m)) ?? 0) + 1);
  return [
    `${what}: the static import graph from \`${entry}\`, ${g.modules.length} source modules (${Math.round(g.bytes / 1024)} KiB of TypeScript before minification).`,
    `Built-in modules: ${g.builtins.map((b) => `\`${b}\``).join(", ")}. npm packages: ${g.packages.length === 0 ? "none" : g.packages.map((p) => `\`${p}\``).join(", ")}.`,
    `By folder: ${[...folders].map(([f, n]) => `${f} (${n})`).join(", ")}.`,
    "",
  ];
}

export function startupSection(): string {
  return [
    "### What a CNI call loads at start-up",
    "",
    "The executable is built with code splitting, as bytecode; each part below is loaded only when reached.",
    "",
    ...describeGraph("Always (the hand-off to a node agent)", "src/main.ts"),
    ...describeGraph("When the plugin works alone (no agent, or no answer)", "src/cni/main.ts"),
    "Not on either path (loaded by dynamic import only from the command-line tools): every command of `src/cli` (demo, status, show, agent, controller, install, uninstall…) and the operator tools of `src/tools`.",
    "",
  ].join("\n");
}
