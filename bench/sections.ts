// Re-measuring one section of docs/benchmarks.md without the others (`npm run bench -- <name>
// --write`): the file is the intro, then the sections, each from its `## ` heading to the next.
// The new text takes the place of the section with the same heading; a section the file does not
// have yet goes in at its place in the run order (the full run writes them in that order). The
// intro is rewritten too: it is text, not a measurement.

/**
 * `file` with `section` in place of the one with its heading. `measured` (the date and machine
 * line) goes under the heading: the file's own line, above the first section, dates the others.
 */
export function replaceSection(file: string, section: string, measured: string, position: number): string {
  const starts = [...file.matchAll(/^## /gm)].map((m) => m.index);
  const preamble = file.slice(0, starts[0] ?? file.length);
  const pieces = starts.map((start, i) => file.slice(start, starts[i + 1] ?? file.length).trimEnd());
  const [heading = "", ...rest] = section.trimEnd().split("\n");
  const dated = [heading, "", `${measured.replace(/\.$/, "")} (this section alone).`, ...rest].join("\n");
  const same = pieces.findIndex((p) => p.split("\n", 1)[0] === heading);
  if (same >= 0) pieces[same] = dated;
  else pieces.splice(Math.min(position, pieces.length), 0, dated);
  return `${preamble}${pieces.join("\n\n")}\n`;
}

/** `file` with its intro (the static text above the file's date line) replaced by `intro`. */
export function replaceIntro(file: string, intro: string): string {
  const dateLine = file.search(/^Measured /m);
  return dateLine < 0 ? file : `${intro}\n${file.slice(dateLine)}`;
}
