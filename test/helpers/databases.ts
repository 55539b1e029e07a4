import { spawnSync } from 'node:child_process';
import { requireAllServices } from './tmp';

/** Connection URLs for the servers .ci/services.sh starts; override with MLSTACK_PG_URL / MLSTACK_MYSQL_URL. */
export const PG_URL = process.env.MLSTACK_PG_URL ?? 'postgres://mlstack:mlstack@127.0.0.1:55432/mlstack_test';
export const MYSQL_URL = process.env.MLSTACK_MYSQL_URL ?? 'mysql://mlstack:mlstack@127.0.0.1:53306/mlstack_test';

/**
 * Checks a database answers. Missing with MLSTACK_REQUIRE_SERVICES=1 is an error (CI); otherwise the
 * caller skips its tests and a visible message says why.
 */
export async function databaseAvailable(kind: 'postgres' | 'mysql'): Promise<boolean> {
  try {
    if (kind === 'postgres') {
      const { Client } = await import('pg');
      const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
      await client.connect();
      await client.end();
    } else {
      const mysql = await import('mysql2/promise');
      const conn = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
      await conn.end();
    }
    return true;
  } catch (err) {
    const message = `${kind} is not reachable at ${kind === 'postgres' ? PG_URL : MYSQL_URL} (${(err as Error).message}): run .ci/services.sh`;
    if (requireAllServices) throw new Error(`${message} (required: MLSTACK_REQUIRE_SERVICES=1)`);
    console.warn(`SKIPPED: ${message}`);
    return false;
  }
}

/**
 * Whether something listens at the URL's host and port, checked synchronously (a child process opens a TCP
 * connection) so a test file can choose describe or describe.skip when it loads. Missing in CI is an error.
 */
export function databaseListening(kind: 'postgres' | 'mysql'): boolean {
  const url = new URL(kind === 'postgres' ? PG_URL : MYSQL_URL);
  const port = url.port || (kind === 'postgres' ? '5432' : '3306');
  const probe = `require('net').connect(${Number(port)}, ${JSON.stringify(url.hostname)}).on('connect', () => process.exit(0)).on('error', () => process.exit(1)).setTimeout(3000, () => process.exit(1))`;
  const ok = spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
  if (!ok) {
    const message = `${kind} is not listening at ${url.hostname}:${port}: run .ci/services.sh`;
    if (requireAllServices) throw new Error(`${message} (required: MLSTACK_REQUIRE_SERVICES=1)`);
    console.warn(`SKIPPED: ${kind} source tests: ${message}`);
  }
  return ok;
}
