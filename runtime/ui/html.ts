/** The page frame and tables of `mlstack ui`: every text from a store or a URL goes through escapeHtml. */
import { escapeHtml } from '../training/report';

export { escapeHtml };

const STYLE = [
  'body{font-family:sans-serif;margin:1.5em 2em;color:#222}',
  'nav{margin-bottom:1em}nav a{margin-right:1em}',
  'table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}',
  'tr.differs td,tr.differs th{background:#fff3cd}',
  '.charts svg{margin:0 1em 1em 0}',
  'iframe{width:100%;height:80vh;border:1px solid #ccc}',
].join('');

/** A whole page: the title, a breadcrumb of links and the body (already HTML). */
export function page(title: string, crumbs: Array<[string, string]>, body: string): string {
  const nav = [['mlstack ui', '/'] as [string, string], ...crumbs].map(([label, href]) => `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><nav>${nav}</nav><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

/** A cell is text (escaped here) or HTML made by this module's callers (`{ html }`). */
export type Cell = string | { html: string };

function cellHtml(cell: Cell): string {
  return typeof cell === 'string' ? escapeHtml(cell) : cell.html;
}

export function anchor(href: string, label: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`;
}

export function link(href: string, label: string): Cell {
  return { html: anchor(href, label) };
}

/** A table with a header row; `rowClass` marks rows (e.g. `differs`). */
export function htmlTable(id: string, header: Cell[], rows: Cell[][], rowClass: (i: number) => string = () => ''): string {
  const head = `<tr>${header.map((h) => `<th>${cellHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r, i) => `<tr${rowClass(i) ? ` class="${rowClass(i)}"` : ''}>${r.map((c) => `<td>${cellHtml(c)}</td>`).join('')}</tr>`).join('');
  return `<table id="${escapeHtml(id)}">${head}${body}</table>`;
}

/** A two-column key/value table. */
export function pairsTable(id: string, pairs: Array<[string, Cell]>): string {
  return htmlTable(id, ['key', 'value'], pairs.map(([k, v]) => [k, v]));
}

export function path(...segments: string[]): string {
  return `/${segments.map(encodeURIComponent).join('/')}`;
}
