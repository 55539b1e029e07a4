import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileDenseSimd, WASM_MODULE_PATH, wasmModuleSource } from '../../containers/dense-simd-wasm';
import { DENSE_SIMD_WASM_BASE64 } from '../../runtime/model/dense-simd.wasm';

const RUNTIME = path.resolve(__dirname, '../../runtime');

describe('the committed WebAssembly kernel', () => {
  it('is exactly what wabt compiles from dense-simd.wat (run npm run build:wasm after editing the .wat)', async () => {
    const bytes = await compileDenseSimd();
    expect(Buffer.from(DENSE_SIMD_WASM_BASE64, 'base64').equals(Buffer.from(bytes))).toBe(true);
    expect(fs.readFileSync(WASM_MODULE_PATH, 'utf8')).toBe(wasmModuleSource(bytes));
  });

  it('changes when the .wat changes (the check above can fail)', async () => {
    const wat = fs.readFileSync(path.join(RUNTIME, 'model', 'dense-simd.wat'), 'utf8');
    const edited = wat.replace('(i32.const 32)))', '(i32.const 33)))');
    expect(edited).not.toBe(wat);
    expect(Buffer.from(await compileDenseSimd(edited)).equals(Buffer.from(DENSE_SIMD_WASM_BASE64, 'base64'))).toBe(false);
  });

  it('is loaded without wabt: nothing under runtime/ imports it', () => {
    const importsWabt = (file: string) => /from ['"]wabt['"]|require\(['"]wabt['"]\)/.test(fs.readFileSync(file, 'utf8'));
    const files = (fs.readdirSync(RUNTIME, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => path.join(RUNTIME, f));
    expect(files.length).toBeGreaterThan(10);
    expect(files.filter(importsWabt)).toEqual([]);
  });
});
