#!/usr/bin/env node
'use strict';
// `node bin/run-ts.js file.ts args...`: runs a TypeScript entry point (benchmarks, apps) without a build.
require('tsx/cjs');
const path = require('node:path');
const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node bin/run-ts.js <file.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(entry), ...rest];
require(path.resolve(entry));
