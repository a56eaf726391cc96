// String helpers for what is kept long after the request that made it.

/**
 * `s` in a string of its own. V8 makes a slice of 13 or more characters a view of its parent, which keeps
 * the parent alive: a short piece kept per document (a window's head, a deleted line) would hold the
 * request's whole text. A concatenation, once sliced, is flattened into a new string first.
 */
export function detached(s: string): string {
  return (' ' + s).slice(1);
}
