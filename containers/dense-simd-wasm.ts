/**
 * `npm run build:wasm` (node bin/run-ts.js containers/dense-simd-wasm.ts [--check]): compiles
 * runtime/model/dense-simd.wat with wabt (a devDependency) and writes the bytes, base64, into
 * runtime/model/dense-simd.wasm.ts, so the runtime and its bundles never need wabt.
 * `--check` writes nothing and exits 1 when the committed module differs from a fresh compile.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import wabt from 'wabt';

const ROOT = path.resolve(__dirname, '..');
export const WAT_PATH = path.join(ROOT, 'runtime', 'model', 'dense-simd.wat');
export const WASM_MODULE_PATH = path.join(ROOT, 'runtime', 'model', 'dense-simd.wasm.ts');

/** The .wat source compiled to wasm bytes (SIMD enabled; no debug names, so the bytes are stable). */
export async function compileDenseSimd(watSource: string = fs.readFileSync(WAT_PATH, 'utf8')): Promise<Uint8Array> {
  const toolkit = await wabt();
  const parsed = toolkit.parseWat('dense-simd.wat', watSource, { simd: true });
  try {
    parsed.validate();
    return Uint8Array.from(parsed.toBinary({ write_debug_names: false }).buffer);
  } finally {
    parsed.destroy();
  }
}

/** The TypeScript module that carries the bytes. */
export function wasmModuleSource(bytes: Uint8Array): string {
  const base64 = Buffer.from(bytes).toString('base64');
  const lines = base64.match(/.{1,100}/g) ?? [];
  return [
    '// Generated from dense-simd.wat by `npm run build:wasm` (containers/dense-simd-wasm.ts, wabt). Do not edit.',
    '// test/model/dense-simd-wasm.test.ts fails when this differs from a fresh compile of the .wat.',
    'export const DENSE_SIMD_WASM_BASE64 =',
    ...lines.map((line, i) => `  '${line}'${i === lines.length - 1 ? ';' : ' +'}`),
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const source = wasmModuleSource(await compileDenseSimd());
  const committed = fs.existsSync(WASM_MODULE_PATH) ? fs.readFileSync(WASM_MODULE_PATH, 'utf8') : '';
  if (process.argv.includes('--check')) {
    if (committed === source) return 0;
    console.error(`${path.relative(ROOT, WASM_MODULE_PATH)} is stale: run npm run build:wasm`);
    return 1;
  }
  if (committed !== source) fs.writeFileSync(WASM_MODULE_PATH, source);
  console.log(`${path.relative(ROOT, WASM_MODULE_PATH)} ${committed === source ? 'unchanged' : 'written'}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(__filename)) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
