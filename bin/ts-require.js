'use strict';
// A require() hook for the repository's .ts files, used by bin/mlstack.js so a fresh clone runs without a
// build step. esbuild compiles each file on its own (tsconfig sets isolatedModules, so that is exact) and
// the output is cached under node_modules/.cache/, keyed by the file's path and content, so a start only
// compiles what changed. tsx does this and much more (ESM, tsconfig paths, a hook on every .js file it
// loads), which costs about 0.25 s on each `mlstack` start (bench/cli-startup.ts measures both); the CLI
// needs none of it. Stack traces point into the .ts sources (inline source maps).
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const CACHE_DIR = path.join(__dirname, '..', 'node_modules', '.cache', 'mlstack-ts');
const OPTIONS = { loader: 'ts', format: 'cjs', target: 'node20', sourcemap: 'inline' };

let esbuild; // loaded on the first cache miss only

function cacheKey(filename, source) {
  const compiler = require('esbuild/package.json').version;
  return crypto.createHash('sha256').update(JSON.stringify([compiler, OPTIONS, filename])).update(source).digest('hex');
}

/** The CommonJS for one .ts file: from the cache, else compiled and cached (written whole, then renamed). */
function compiled(filename, cacheDir) {
  const source = fs.readFileSync(filename, 'utf8');
  const cached = path.join(cacheDir, `${cacheKey(filename, source)}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    esbuild ??= require('esbuild');
    const { code } = esbuild.transformSync(source, { ...OPTIONS, sourcefile: filename });
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const partial = `${cached}.${process.pid}`;
      fs.writeFileSync(partial, code);
      fs.renameSync(partial, cached);
    } catch {
      // A read-only install still runs; it compiles on every start.
    }
    return code;
  }
}

/** Makes require() load .ts files (and resolve extensionless paths to them). */
function register(cacheDir = CACHE_DIR) {
  process.setSourceMapsEnabled(true);
  Module._extensions['.ts'] = (module, filename) => module._compile(compiled(filename, cacheDir), filename);
}

module.exports = { register, CACHE_DIR };
