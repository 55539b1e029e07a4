#!/usr/bin/env node
'use strict';
// Runs the TypeScript CLI directly (tsx transpiles on load), so a fresh clone needs no build step.
require('tsx/cjs');
require('../runtime/cli/main.ts')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
