/**
 * Runs first inside every bundle (containers/build.ts puts it before the handler).
 *
 * Some runtime code loads optional packages by a computed name (the training
 * backend tries `require(name)` for tfjs-node-gpu, tfjs-node, then the wasm
 * backend) and finds the wasm binaries with require.resolve. esbuild cannot see
 * either, so a bundle with no node_modules would silently lose the wasm backend.
 * This hook answers those lookups from the modules bundled in and the .wasm files
 * copied beside main.js; anything else goes to Node's normal resolution (so the
 * GPU image's installed @tensorflow/tfjs-node-gpu still loads from node_modules).
 */
import Module from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

type ModuleInternals = typeof Module & {
  _resolveFilename(request: string, parent: unknown, ...rest: unknown[]): string;
};

/** Lazily evaluated, so a bundle only pays for a module it actually loads. */
export type BundledModules = Record<string, () => unknown>;

const WASM_FILE = /^@tensorflow\/tfjs-backend-wasm\/dist\/([\w.-]+\.wasm)$/;

export function installBundledModules(modules: BundledModules, assetDir: string): void {
  const internals = Module as ModuleInternals;
  const originalRequire = Module.prototype.require;
  const originalResolve = internals._resolveFilename;

  Module.prototype.require = function bundledRequire(this: NodeJS.Module, id: string) {
    const load = modules[id];
    return load ? load() : originalRequire.call(this, id);
  } as typeof Module.prototype.require;

  internals._resolveFilename = function bundledResolve(request: string, parent: unknown, ...rest: unknown[]): string {
    const wasm = WASM_FILE.exec(request);
    if (wasm) {
      const beside = path.join(assetDir, wasm[1]);
      if (fs.existsSync(beside)) return beside;
    }
    return originalResolve.call(this, request, parent, ...rest);
  };
}
