import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, waitForPort } from './moto';
import { requireAllServices } from './tmp';

const AZURITE_BIN = path.resolve(__dirname, '..', '..', 'node_modules', '.bin', 'azurite-blob');
/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  account: string;
  connectionString: string;
  stop(): Promise<void>;
}

export function azuriteAvailable(): boolean {
  const found = fs.existsSync(AZURITE_BIN);
  if (!found && requireAllServices) throw new Error(`Azurite is required in CI (MLSTACK_REQUIRE_SERVICES=1) but ${AZURITE_BIN} is missing: run npm ci`);
  return found;
}

/** Starts Azurite's blob service in memory on a free loopback port. */
export async function startAzurite(): Promise<Azurite> {
  const port = await freePort();
  const proc = spawn(
    AZURITE_BIN,
    ['--silent', '--inMemoryPersistence', '--skipApiVersionCheck', '--blobHost', '127.0.0.1', '--blobPort', String(port)],
    { stdio: 'ignore' },
  );
  await waitForPort(port, 30000, proc);
  return {
    account: DEV_ACCOUNT,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        // Azurite waits for idle keep-alive sockets on SIGTERM; force it after a grace period.
        const force = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}
