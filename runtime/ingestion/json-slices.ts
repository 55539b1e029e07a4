/**
 * Finds the source text of each element of the array at a dotted path in a JSON document, so raw JSONL can keep
 * what the source sent without serialising every parsed record again. Runs after JSON.parse has accepted the
 * text, so it only has to find boundaries; anything unexpected returns undefined and the caller serialises instead.
 */

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const COLON = 58;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i += 1;
  return i;
}

/** Index just past the string starting at `i` (which is a quote); indexOf jumps over the text inside. */
function skipString(text: string, i: number): number {
  for (;;) {
    const quote = text.indexOf('"', i + 1);
    if (quote < 0) return -1;
    let before = quote - 1;
    while (text.charCodeAt(before) === BACKSLASH) before -= 1;
    // An even run of backslashes escapes itself, not the quote.
    if ((quote - 1 - before) % 2 === 0) return quote + 1;
    i = quote;
  }
}

/** Index just past the value starting at `i`. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (; i < text.length; i += 1) {
      const d = text.charCodeAt(i);
      if (d === QUOTE) {
        i = skipString(text, i) - 1;
        if (i < 0) return -1;
      } else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth += 1;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) break;
    i += 1;
  }
  return i;
}

/** Start of the value at `path` inside the object starting at `i`, or -1 (a key with escapes or a repeated key gives up). */
function findPath(text: string, i: number, path: readonly string[]): number {
  for (const key of path) {
    i = skipSpace(text, i);
    if (text.charCodeAt(i) !== OPEN_BRACE) return -1;
    i = skipSpace(text, i + 1);
    let found = -1;
    while (text.charCodeAt(i) === QUOTE) {
      const end = skipString(text, i);
      if (end < 0) return -1;
      const name = text.slice(i + 1, end - 1);
      if (name.includes('\\')) return -1;
      i = skipSpace(text, end);
      if (text.charCodeAt(i) !== COLON) return -1;
      i = skipSpace(text, i + 1);
      if (name === key) {
        if (found >= 0) return -1; // JSON.parse keeps the last duplicate; do not guess
        found = i;
      }
      i = skipValue(text, i);
      if (i < 0) return -1;
      i = skipSpace(text, i);
      if (text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1);
    }
    if (found < 0) return -1;
    i = found;
  }
  return skipSpace(text, i);
}

/**
 * The text of each element of the array at `dottedPath` ("" is the document itself), or undefined when it cannot
 * be found plainly or its length is not `expectedCount`. An element spanning lines comes back as undefined, since
 * a JSONL line cannot hold it.
 */
export function arrayElementTexts(text: string, dottedPath: string, expectedCount: number): (string | undefined)[] | undefined {
  let i = findPath(text, 0, dottedPath === '' ? [] : dottedPath.split('.'));
  if (i < 0 || text.charCodeAt(i) !== OPEN_BRACKET) return undefined;
  const out: (string | undefined)[] = [];
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_BRACKET) return expectedCount === 0 ? out : undefined;
  for (;;) {
    const end = skipValue(text, i);
    if (end <= i) return undefined;
    const element = text.slice(i, end);
    out.push(element.includes('\n') || element.includes('\r') ? undefined : element);
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === CLOSE_BRACKET) break;
    if (c !== COMMA) return undefined;
    i = skipSpace(text, i + 1);
  }
  return out.length === expectedCount ? out : undefined;
}
