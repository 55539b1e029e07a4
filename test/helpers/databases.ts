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
