import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { missingNetnsProgram, programOnPath } from "./netns-programs.ts";

const dir = mkdtempSync(join(tmpdir(), "thereabouts-netns-programs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A directory holding `files` (name → mode; "dir" for a directory, "link" for a symlink to /usr/bin/env). */
function pathDir(name: string, files: Record<string, number | "dir" | "link">): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [file, what] of Object.entries(files)) {
    const p = join(d, file);
    if (what === "dir") mkdirSync(p);
    else if (what === "link") symlinkSync("/usr/bin/env", p);
    else {
      writeFileSync(p, "#!/bin/true\n");
      chmodSync(p, what);
    }
  }
  return d;
}

describe("the programs a meta-plugin call runs (nsenter, ip) on the agent's PATH", () => {
  const none = pathDir("none", {});
  const onlyIp = pathDir("only-ip", { ip: 0o755 });
  const onlyNsenter = pathDir("only-nsenter", { nsenter: 0o755 });
  const notExecutable = pathDir("not-executable", { nsenter: 0o644, ip: 0o644 });
  const directories = pathDir("directories", { nsenter: "dir", ip: "dir" });
  const links = pathDir("links", { nsenter: "link", ip: "link" });

  it("names the first one missing, with its package; none missing: undefined", () => {
    assert.equal(
      missingNetnsProgram(none),
      "nsenter (util-linux) is not on this agent's PATH: the plugin runs meta-plugin calls itself",
    );
    assert.match(missingNetnsProgram(onlyIp) ?? "", /^nsenter \(util-linux\) is not/);
    assert.match(missingNetnsProgram(onlyNsenter) ?? "", /^ip \(iproute2\) is not on this agent's PATH/);
    assert.equal(
      missingNetnsProgram(`${onlyIp}:${onlyNsenter}`),
      undefined,
      "found in different directories",
    );
    assert.equal(missingNetnsProgram(links), undefined, "a symbolic link to an executable counts");
  });

  it("a file that is not executable, or a directory of that name, does not count; the next directory is searched", () => {
    assert.match(missingNetnsProgram(notExecutable) ?? "", /^nsenter/);
    assert.match(missingNetnsProgram(directories) ?? "", /^nsenter/);
    assert.equal(programOnPath("ip", `${notExecutable}:${directories}:${onlyIp}`), join(onlyIp, "ip"));
  });

  it("relative and empty entries are not searched (they depend on the working directory)", () => {
    process.chdir(onlyIp);
    try {
      assert.equal(programOnPath("ip", ".:"), undefined);
      assert.equal(programOnPath("ip", `.::${onlyIp}`), join(onlyIp, "ip"));
    } finally {
      process.chdir(dir);
    }
  });

  it("PATH unset: /usr/bin and /bin, where Debian has both", () => {
    assert.match(programOnPath("nsenter", undefined) ?? "", /^\/(usr\/)?bin\/nsenter$/);
    assert.equal(missingNetnsProgram(undefined), undefined);
    assert.match(missingNetnsProgram("") ?? "", /^nsenter/, "an empty PATH finds nothing");
  });
});
