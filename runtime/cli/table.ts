/** Plain-text tables for the listing commands: columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

/** A titled block of `key  value` lines (nothing when there are none). */
export function section(title: string, entries: Array<[string, string]>): string {
  return entries.length ? `${title}:\n${table(entries.map(([k, v]) => [`  ${k}`, v]))}` : '';
}
