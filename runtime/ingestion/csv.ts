/** True when a parser could read `text` differently unquoted: separators, quotes, line breaks, edge whitespace, or empty. */
function needsQuotes(text: string): boolean {
  const n = text.length;
  if (n === 0) return true;
  // Edge whitespace: anything String.prototype.trim would remove (ASCII fast path first).
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(n - 1);
  if (first <= 32 || last <= 32 || first >= 0x80 || last >= 0x80) {
    if (text.trim() !== text) return true;
  }
  for (let i = 0; i < n; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 44 /* , */ || c === 34 /* " */ || c === 10 || c === 13) return true;
  }
  return false;
}

/** RFC 4180 quoting for one value; null and undefined become an empty field. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return needsQuotes(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly unknown[]): string {
  let line = values.length > 0 ? csvField(values[0]) : '';
  for (let i = 1; i < values.length; i += 1) line += ',' + csvField(values[i]);
  return line + '\n';
}
