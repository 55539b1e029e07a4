#!/usr/bin/env node
'use strict';
// Runs the TypeScript CLI directly (bin/ts-require.js compiles each file once and caches it), so a fresh clone needs no build step.
// runMain (runtime/common/errors.ts) sets the exit code from the error catalogue and never cuts output short.
require('./ts-require').register();
require('../runtime/common/errors.ts').runMain('mlstack', () => require('../runtime/cli/main.ts').main(process.argv));
