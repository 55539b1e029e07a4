/**
 * A small unified diff (the format `git diff` prints), used by `promote --dry-run`
 * so a user sees the exact change without anything being written.
 */

type Op = { kind: ' ' | '-' | '+'; line: string; oldNo: number; newNo: number };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Line operations from a longest-common-subsequence table (config files are small). */
function diffOps(a: string[], b: string[]): Op[] {
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i], oldNo: i++, newNo: j++ });
    } else if (i < a.length && (j >= b.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push({ kind: '-', line: a[i], oldNo: i++, newNo: j });
    } else {
      ops.push({ kind: '+', line: b[j], oldNo: i, newNo: j++ });
    }
  }
  return ops;
}

/** `git diff`-style unified diff of two texts with `context` lines around each change; "" when equal. */
export function unifiedDiff(oldText: string, newText: string, filePath: string, context = 3): string {
  const ops = diffOps(splitLines(oldText), splitLines(newText));
  const changed = ops.map((op, index) => (op.kind === ' ' ? -1 : index)).filter((index) => index >= 0);
  if (changed.length === 0) return '';
  const hunks: Array<[number, number]> = [];
  for (const index of changed) {
    const start = Math.max(0, index - context);
    const end = Math.min(ops.length, index + context + 1);
    const last = hunks[hunks.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else hunks.push([start, end]);
  }
  const out = [`--- a/${filePath}`, `+++ b/${filePath}`];
  for (const [start, end] of hunks) {
    const slice = ops.slice(start, end);
    const oldCount = slice.filter((op) => op.kind !== '+').length;
    const newCount = slice.filter((op) => op.kind !== '-').length;
    const oldStart = oldCount === 0 ? slice[0].oldNo : slice[0].oldNo + 1;
    const newStart = newCount === 0 ? slice[0].newNo : slice[0].newNo + 1;
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
    for (const op of slice) out.push(`${op.kind}${op.line}`);
  }
  return out.join('\n') + '\n';
}
