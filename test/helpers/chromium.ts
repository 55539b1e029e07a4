import * as fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { requireAllServices } from './tmp';

/** Debian's chromium (.ci/services.sh installs it with chromium-driver when missing). */
export const CHROMIUM = '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** True when chromium is installed; false (with a note why the tests skip) when not, unless CI asks for every service. */
export function chromiumAvailable(): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  const message = `${CHROMIUM} not found: the mlstack ui browser tests need Debian's chromium (run .ci/services.sh)`;
  if (requireAllServices) throw new Error(`${message}; MLSTACK_REQUIRE_SERVICES=1 makes this a failure`);
  console.warn(`SKIPPED: ${message}`);
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** A PNG starts with these eight bytes. */
export function isPng(file: string): boolean {
  const bytes = fs.readFileSync(file);
  return bytes.length > 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}
