'use strict';
// Preloaded (node --require) by test/install: every package that `npm ci --omit=dev` leaves out (its entry in
// package-lock.json is "dev": true) becomes unresolvable, so the process runs as on a runtime-only install.
const Module = require('node:module');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const { packages } = require(path.join(ROOT, 'package-lock.json'));
const devOnly = new Set(Object.keys(packages).filter((key) => key !== '' && packages[key].dev === true));

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveInstalledOnly(request, ...rest) {
  const file = resolve.call(this, request, ...rest);
  const relative = path.relative(ROOT, file).split(path.sep).join('/');
  const pkg = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(relative)?.[1];
  if (pkg !== undefined && devOnly.has(pkg)) {
    throw Object.assign(new Error(`Cannot find module '${request}': ${pkg} is a devDependency, left out by npm ci --omit=dev`), { code: 'MODULE_NOT_FOUND' });
  }
  return file;
};
