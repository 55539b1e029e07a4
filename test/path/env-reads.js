'use strict';
/**
 * Preloaded (`node --require`) into a container under test: records every environment variable the process reads
 * and writes the sorted names to $ENV_READS_FILE.<pid> on exit, so a test can prove that each variable a stack sets is
 * actually read. Copying process.env (spreading it into a child's env) is not a read.
 */
const fs = require('node:fs');

const file = process.env.ENV_READS_FILE;
if (file) {
  const reads = new Set();
  // Copying an object ({...env}, Object.entries, Object.assign) asks for each key's descriptor and then its
  // value; a direct read (env.X, env[name]) asks for the value alone. Only direct reads count.
  let described;
  const target = process.env;
  process.env = new Proxy(target, {
    get(t, key) {
      if (typeof key === 'string' && key !== described) reads.add(key);
      described = undefined;
      return t[key];
    },
    has(t, key) {
      if (typeof key === 'string') reads.add(key);
      return key in t;
    },
    ownKeys(t) {
      return Reflect.ownKeys(t);
    },
    getOwnPropertyDescriptor(t, key) {
      described = key;
      return Reflect.getOwnPropertyDescriptor(t, key);
    },
    set(t, key, value) {
      t[key] = String(value);
      return true;
    },
    deleteProperty(t, key) {
      delete t[key];
      return true;
    },
  });
  // One file per process: a server's workers (node:cluster) run this preload too.
  process.on('exit', () => {
    fs.writeFileSync(`${file}.${process.pid}`, JSON.stringify([...reads].sort()));
  });
}
