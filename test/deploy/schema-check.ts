// Checks rendered Kubernetes objects against the API's own schemas, two ways, both from the
// `kubernetes-models` package (generated from the Kubernetes OpenAPI document):
//  - validate(): the JSON schema (types, required fields, enums) of the object's kind;
//  - typeCheck(): TypeScript's excess-property check against the kind's declared type, which the
//    JSON schemas cannot do (they allow unknown fields, and the apiserver drops them silently:
//    a misspelled `readinesProbe` would be applied as no probe at all).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../scripts/manifests.ts";
import type { KubeObject } from "./render.ts";

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The model class of the object's apiVersion and kind, or undefined when the package has none. */
export async function modelOf(object: KubeObject): Promise<ModelClass | undefined> {
  let module: Record<string, unknown>;
  try {
    module = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return module[object.kind] as ModelClass | undefined;
}

/** The schema violations of one object ("" when valid); throws when the kind is not modelled. */
export async function schemaErrors(object: KubeObject): Promise<string> {
  const Model = await modelOf(object);
  if (Model === undefined) throw new Error(`no OpenAPI model for ${object.apiVersion} ${object.kind}`);
  try {
    new Model(object).validate();
    return "";
  } catch (error) {
    const details = (error as { errors?: { instancePath: string; message?: string }[] }).errors;
    return details === undefined
      ? String(error)
      : details.map((d) => `${d.instancePath || "/"} ${d.message ?? ""}`).join("; ");
  }
}

/**
 * Type-checks each object as a literal of its kind's declared type; returns tsc's diagnostics
 * ("" when there are none). Each object is its own file, named after `label`, so a diagnostic
 * says which object it is about.
 */
export function typeCheck(objects: readonly { label: string; object: KubeObject }[]): string {
  const dir = mkdtempSync(join(tmpdir(), "thereabouts-manifest-types-"));
  try {
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "es2023",
          module: "nodenext",
          moduleResolution: "nodenext",
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        include: ["*.mts"],
      }),
    );
    objects.forEach(({ label, object }, i) => {
      const file = `${String(i).padStart(3, "0")}-${label.replace(/[^a-zA-Z0-9.-]+/g, "_")}.mts`;
      writeFileSync(
        join(dir, file),
        `import type { I${object.kind} as Kind } from "kubernetes-models/${object.apiVersion}/${object.kind}";\n` +
          `export const object: Kind = ${JSON.stringify(object, null, 1)};\n`,
      );
    });
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", dir, "--pretty", "false"], {
      encoding: "utf8",
      maxBuffer: 16 << 20,
    });
    if (r.error !== undefined) throw r.error;
    return `${r.stdout}${r.stderr}`.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
