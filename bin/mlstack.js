#!/usr/bin/env node
'use strict';
// Runs the TypeScript CLI directly (bin/ts-require.js compiles each file once and caches it), so a fresh clone needs no build step.
require('./ts-require').register();
require('../runtime/cli/main.ts')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
