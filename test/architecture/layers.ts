/**
 * The layer rule of docs/architecture.md as code: parse the page (its picture and tables), list the
 * relative imports of the source folders, and name every import that breaks the rule.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

export interface Layer {
  level: number;
  folders: string[];
  /** Every layer beneath this one may be imported. */
  below: boolean;
  /** Folders named in "May import" (besides `layers below`). */
  explicit: string[];
}

export interface Architecture {
  layers: Layer[];
  /** Allowed imports between folders of one layer, as `from -> to`. */
  sideways: Set<string>;
  /** Folders (with the layer number) as the picture draws them, and each numbered row's arrow targets. */
  picture: { members: Map<string, number>; arrows: Map<number, string[]> };
}

/** One resolved relative import: the importing file and the file it names, both relative to the repository root. */
export interface ImportEdge {
  from: string;
  to: string;
}

const FOLDER = /(?:runtime\/[a-z][a-z0-9-]*|config|infra|containers)\//g;
const ARROW = /─+>|-+>/;

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/architecture.md has no "## ${heading}" section`);
  const next = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, next < 0 ? undefined : next);
}

function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.trim().startsWith('|'))
    .slice(2) // the header and its |---| line
    .map((line) => line.trim().slice(1, -1).split('|').map((cell) => cell.trim()));
}

function foldersIn(text: string): string[] {
  return [...text.matchAll(/`([^`]+\/)`/g)].map((m) => m[1]);
}

function parseLayerRow([level, folders, , mayImport]: string[]): Layer {
  const parsed = foldersIn(folders ?? '');
  if (!/^\d+$/.test(level ?? '') || parsed.length === 0) throw new Error(`docs/architecture.md: layer row "${[level, folders].join(' | ')}" needs a number and backquoted folders`);
  return { level: Number(level), folders: parsed, below: /layers below/.test(mayImport ?? ''), explicit: foldersIn(mayImport ?? '') };
}

/** The folders each numbered row of the picture starts with (its indented rows included) and the folders after its arrow. */
function parsePicture(markdown: string): Architecture['picture'] {
  const block = /```\n([\s\S]*?)```/.exec(section(markdown, 'Picture'));
  if (!block) throw new Error('docs/architecture.md: the Picture section has no ``` block');
  const members = new Map<string, number>();
  const arrows = new Map<number, string[]>();
  let current: number | undefined;
  for (const line of block[1].split('\n')) {
    const numbered = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (numbered) current = Number(numbered[1]);
    else if (!/^\s{4,}(runtime|config|infra|containers)\//.test(line)) continue;
    if (current === undefined) continue;
    const [left, right] = line.split(ARROW, 2);
    for (const folder of left.match(FOLDER) ?? []) members.set(folder, current);
    if (numbered && right !== undefined) arrows.set(current, [...(right.match(FOLDER) ?? [])].sort());
  }
  return { members, arrows };
}

export function parseArchitecture(markdown: string): Architecture {
  const layers = tableRows(section(markdown, 'Layers')).map(parseLayerRow);
  const sideways = new Set(
    tableRows(section(markdown, 'Sideways')).map(([from, to]) => {
      const [a, b] = [foldersIn(from), foldersIn(to)];
      if (a.length !== 1 || b.length !== 1) throw new Error(`docs/architecture.md: sideways row "${from} | ${to}" needs one folder on each side`);
      return `${a[0]} -> ${b[0]}`;
    }),
  );
  return { layers, sideways, picture: parsePicture(markdown) };
}

/** Where the picture and the tables disagree (the picture must be what the test enforces). */
export function pictureProblems(arch: Architecture): string[] {
  const problems: string[] = [];
  const inTable = new Map(arch.layers.flatMap((l) => l.folders.map((f) => [f, l.level] as const)));
  for (const [folder, level] of inTable) {
    const drawn = arch.picture.members.get(folder);
    if (drawn !== level) problems.push(`${folder} is layer ${level} in the table but ${drawn === undefined ? 'missing from the picture' : `drawn in row ${drawn}`}`);
  }
  for (const folder of arch.picture.members.keys()) {
    if (!inTable.has(folder)) problems.push(`${folder} is drawn in the picture but is in no row of the table`);
  }
  for (const layer of arch.layers) {
    const drawn = (arch.picture.arrows.get(layer.level) ?? []).join(' ');
    const listed = [...layer.explicit].sort().join(' ');
    if (drawn !== listed) problems.push(`row ${layer.level}: the picture's arrow names "${drawn}" but "May import" lists "${listed}"`);
  }
  return problems;
}

/** The folder (as the table names it) that holds `file`; the most specific one wins. */
export function folderOf(arch: Architecture, file: string): Layer & { folder: string } | undefined {
  let best: (Layer & { folder: string }) | undefined;
  for (const layer of arch.layers) {
    for (const folder of layer.folders) {
      if (file.startsWith(folder) && (!best || folder.length > best.folder.length)) best = { ...layer, folder };
    }
  }
  return best;
}

function allowed(arch: Architecture, from: Layer & { folder: string }, to: Layer & { folder: string }): boolean {
  if (from.folder === to.folder) return true;
  if (from.explicit.includes(to.folder)) return true;
  if (from.below && to.level < from.level) return true;
  return arch.sideways.has(`${from.folder} -> ${to.folder}`);
}

/** Files in a folder no layer places (a new folder must be added to the page first). */
export function unplacedFiles(arch: Architecture, files: string[]): string[] {
  return files.filter((file) => !folderOf(arch, file)).map((file) => `${file}: its folder is in no layer of docs/architecture.md`);
}

/** Each import that points up or across the layers, or out of them, as one readable line. */
export function layerViolations(arch: Architecture, edges: ImportEdge[]): string[] {
  const out: string[] = [];
  for (const edge of edges) {
    const from = folderOf(arch, edge.from);
    const to = folderOf(arch, edge.to);
    if (!from) out.push(`${edge.from}: its folder is in no layer of docs/architecture.md`);
    else if (!to) out.push(`${edge.from} -> ${edge.to}: imports a file outside the layers (${from.folder} may import ${describeAllowed(from)})`);
    else if (!allowed(arch, from, to)) {
      const direction = to.level > from.level ? 'up' : to.level === from.level ? 'across' : 'past what it may see';
      out.push(`${edge.from} -> ${edge.to}: ${direction}, layer ${from.level} ${from.folder} imports layer ${to.level} ${to.folder}`);
    }
  }
  return [...new Set(out)].sort();
}

function describeAllowed(layer: Layer): string {
  const parts = [...(layer.below ? ['layers below'] : []), ...layer.explicit];
  return parts.length ? parts.join(', ') : 'nothing';
}

/** Cycles between runtime/ folders (each strongly connected group of two or more), with one import per step. */
export function folderCycles(edges: ImportEdge[], folderOfFile: (file: string) => string | undefined): string[] {
  const graph = new Map<string, Map<string, ImportEdge>>();
  for (const edge of edges) {
    const [a, b] = [folderOfFile(edge.from), folderOfFile(edge.to)];
    if (!a || !b || a === b) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    if (!graph.get(a)!.has(b)) graph.get(a)!.set(b, edge);
  }
  return stronglyConnected(graph)
    .filter((group) => group.length > 1)
    .map((group) => {
      const inside = new Set(group);
      const steps = group.flatMap((a) => [...(graph.get(a) ?? new Map<string, ImportEdge>()).entries()].filter(([b]) => inside.has(b)).map(([b, e]) => `${a} -> ${b} (${e.from} imports ${e.to})`));
      return `cycle between ${[...group].sort().join(', ')}: ${steps.sort().join('; ')}`;
    });
}

/** Tarjan's algorithm over a small graph. */
function stronglyConnected(graph: Map<string, Map<string, unknown>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    groups.push(group);
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return groups;
}

/** The .ts files (relative to the repository root) under one top-level folder. */
export function sourceFiles(root: string, folder: string): string[] {
  const dir = path.join(root, folder);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((rel) => rel.endsWith('.ts') && !rel.endsWith('.d.ts') && !rel.split(path.sep).includes('node_modules'))
    .map((rel) => path.posix.join(folder, rel.split(path.sep).join('/')));
}

function resolveImport(root: string, fromFile: string, specifier: string): string {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), specifier));
  for (const candidate of [base, `${base}.ts`, `${base}.js`, `${base}/index.ts`, `${base}/index.js`]) {
    const full = path.join(root, candidate);
    if (fs.existsSync(full) && fs.statSync(full).isFile()) return candidate;
  }
  return base;
}

/** Every relative import (static, dynamic, require, export-from, type-only) of the .ts files under `folders`. */
export function relativeImports(root: string, folders: string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of folders.flatMap((folder) => sourceFiles(root, folder))) {
    const info = ts.preProcessFile(fs.readFileSync(path.join(root, file), 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('.')) edges.push({ from: file, to: resolveImport(root, file, fileName) });
    }
  }
  return edges;
}
