// What an error message may carry. Messages end up in pod events, runtime logs and the node
// agent's answers, read by people who may not read the configuration itself: a value is quoted
// short, a URL loses its credentials, and the whole message has a ceiling.

/** How much of one value a message quotes. */
export const MAX_QUOTED_CHARS = 100;
/** The ceiling of one error message (or its details, or one log line) at the CNI edge. */
export const MAX_MESSAGE_CHARS = 4096;

/** `text` cut to `max` characters, "…" marking the cut (never splitting a surrogate pair). */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** A value as a message shows it unquoted (Go's texts print some values bare): at most ~100 characters. */
export function clip(value: string): string {
  return shorten(value, MAX_QUOTED_CHARS);
}

/**
 * A list as a message shows it, space-separated as Go prints a slice: whole items up to ~100
 * characters, then how many were left out (a 65,536-entry exclude list must not make a 1 MB error).
 */
export function listed(items: readonly string[]): string {
  let text = "";
  for (const [i, item] of items.entries()) {
    const next = i === 0 ? clip(item) : `${text} ${clip(item)}`;
    if (i > 0 && next.length > MAX_QUOTED_CHARS) return `${text} …(${items.length - i} more)`;
    text = next;
  }
  return text;
}

/** A value as a message quotes it: JSON-quoted (control characters escaped), at most ~100 characters. */
export function quote(value: string): string {
  return JSON.stringify(clip(value));
}

/**
 * A URL without the credentials it may carry: `http://user:pass@host:2379` → `http://***@host:2379`.
 * Everything up to the last "@" goes, so a password holding "@" or "/" is not half shown; text
 * without "@" is returned as it is. A `user:pass@host` without a scheme is caught too.
 */
export function withoutCredentials(url: string): string {
  return url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)?.*@/is,
    (_match, scheme: string | undefined) => `${scheme ?? ""}***@`,
  );
}
