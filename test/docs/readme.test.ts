import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { environmentSchema, parserSchema, pipelineSchema } from '../../config/schema';
import { buildProgram } from '../../runtime/cli/main';

const README = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
const ROOT = path.resolve(__dirname, '../..');

/** Every key name an object schema accepts, at any depth (record keys are user-chosen, so skipped). */
function keyNames(schema: unknown, out = new Set<string>()): Set<string> {
  const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  if (!def) return out;
  switch (def.type) {
    case 'object':
      for (const [key, child] of Object.entries(def.shape as Record<string, unknown>)) {
        out.add(key);
        keyNames(child, out);
      }
      // An object with a catch-all (parser.json `validation`: per-field rules beside max_quarantine_share).
      if (def.catchall) keyNames(def.catchall, out);
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      keyNames(def.innerType, out);
      break;
    case 'pipe':
      keyNames(def.in, out);
      break;
    case 'record':
      keyNames(def.valueType, out);
      break;
    case 'array':
      keyNames(def.element, out);
      break;
    case 'union':
      for (const option of def.options as unknown[]) keyNames(option, out);
      break;
  }
  return out;
}

function documented(name: string): boolean {
  return new RegExp('`[^`\\n]*\\b' + name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '\\b[^`\\n]*`').test(README);
}

describe('README', () => {
  it('walks nested, defaulted and refined schemas', () => {
    const keys = keyNames(pipelineSchema);
    for (const k of ['batch_size', 'early_stopping_patience', 'search_space', 'max_body_bytes']) expect(keys).toContain(k);
    const env = keyNames(environmentSchema);
    for (const k of ['min_capacity', 'checkpoints_path', 'project_id', 'data_capture_percent']) expect(env).toContain(k);
    expect(keyNames(parserSchema)).toContain('max_retry_after_ms');
  });

  it.each([
    ['pipeline.json', pipelineSchema],
    ['parser.json', parserSchema],
    ['environments/<env>.json', environmentSchema],
  ])('documents every key of %s', (_file, schema) => {
    expect(keyNames(schema).size).toBeGreaterThan(8);
    const missing = [...keyNames(schema)].filter((k) => !documented(k));
    expect(missing).toEqual([]);
  });

  it('documents every CLI command and every option', () => {
    const missing: string[] = [];
    const walk = (cmd: Command, prefix: string) => {
      for (const sub of cmd.commands) {
        const name = `${prefix}${sub.name()}`.trim();
        if (!documented(name)) missing.push(name);
        for (const opt of sub.options) {
          const flag = opt.long ?? opt.short ?? '';
          if (flag !== '--help' && !README.includes(flag)) missing.push(`${name} ${flag}`);
        }
        walk(sub, `${name} `);
      }
    };
    walk(buildProgram(), '');
    expect(missing).toEqual([]);
  });

  it('names only npm scripts and files that exist', () => {
    const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts);
    for (const [, script] of README.matchAll(/npm run ([a-z:]+)/g)) expect(scripts).toContain(script);
    for (const [, link] of README.matchAll(/\]\(((?:docs|config|infra|runtime|containers|bench|test|\.github)[^)#]*)\)/g)) {
      expect(fs.existsSync(path.join(ROOT, link))).toBe(true);
    }
    for (const [, file] of README.matchAll(/bench\/([a-z-]+\.ts)/g)) expect(fs.existsSync(path.join(ROOT, 'bench', file))).toBe(true);
  });
});
