// Reading ldd's output: the image ships exactly the files it names, so a misread line would
// ship an image that cannot start (or one with files it does not need).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseLdd, sharedLibraries, sharedLibrariesOf } from "../../scripts/image/ldd.ts";
import { BINARY } from "../support/plugin.ts";

describe("parseLdd", () => {
  it("takes the resolved paths and the loader, in order, and leaves out the vDSO", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd4b1e5000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2cd3eb2000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f2cd40a7000)",
      "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f2cd3dc8000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2cd3eb2000)",
      "",
    ].join("\n");
    assert.deepEqual(parseLdd(output), [
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2",
      "/lib/x86_64-linux-gnu/libm.so.6",
    ]);
  });

  it("a static executable needs nothing", () => {
    assert.deepEqual(parseLdd("\tstatically linked\n"), []);
  });

  it("a library ldd cannot find is an error naming it", () => {
    assert.throws(
      () => parseLdd("\tlibfoo.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n"),
      /shared library libfoo\.so\.1 not found/,
    );
  });

  it("a line it does not understand is an error, not a silently missing library", () => {
    assert.throws(() => parseLdd("\tlibbar.so.2 => ??? (0x1)\n"), /cannot read the line/);
    assert.throws(() => parseLdd("\tsomething else entirely\n"), /cannot read the line/);
  });

  it("the built executable needs the dynamic loader and libc, at absolute paths", () => {
    const libraries = sharedLibraries(BINARY.file);
    assert.ok(libraries.includes("/lib64/ld-linux-x86-64.so.2"));
    assert.ok(libraries.some((l) => /\/libc\.so\.6$/.test(l)));
    for (const l of libraries) assert.ok(l.startsWith("/"), l);
  });

  it("several executables: every library of each, each listed once, in the order first met", () => {
    const [a, b] = [sharedLibraries(BINARY.file), sharedLibraries("/usr/bin/nsenter")];
    const all = sharedLibrariesOf([BINARY.file, "/usr/bin/nsenter"]);
    assert.deepEqual(all.slice(0, a.length), a);
    assert.deepEqual(new Set(all), new Set([...a, ...b]));
    assert.equal(new Set(all).size, all.length, "no library twice");
    assert.ok(
      all.some((l) => /\/libselinux\.so\.1$/.test(l)),
      "nsenter's own",
    );
  });
});
