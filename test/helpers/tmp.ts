import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ENV } from '../../runtime/contract/env';

/** A fresh temp folder removed after the test file (call in describe scope or a test). */
export function makeTempDir(prefix = 'mlstack-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Copies the repository's config/ into a temp folder so a test can break it freely. */
export function copyConfig(into: string = makeTempDir('mlstack-config-')): string {
  const src = path.resolve(__dirname, '..', '..', 'config');
  fs.cpSync(src, into, { recursive: true, filter: (f) => !f.endsWith('.ts') });
  return into;
}

export function editJson(file: string, edit: (doc: any) => void): void {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(doc);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
}

/** True when CI asks for every integration dependency to be present (skips become failures). */
export const requireAllServices = process.env[ENV.requireServices] === '1';
