import { runIngestion } from '../../runtime/ingestion';
import { DatabaseSource } from '../../runtime/ingestion/db-source';
import { sampleRow, SAMPLE_FIELDS } from '../../runtime/ingestion/sample-data';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { databaseAvailable, databaseListening, MYSQL_URL, PG_URL } from '../helpers/databases';
import { expectEachIdOnce, idsOf, testProject } from '../helpers/ingest-fixtures';
import { makeTempDir } from '../helpers/tmp';

const TABLE = `customers_${process.pid}`;
const COLUMNS = `customer_id INTEGER PRIMARY KEY, customer_age INTEGER, monthly_spend VARCHAR(20), tenure_months INTEGER,
  plan_name VARCHAR(20), region VARCHAR(20), support_tickets INTEGER, signup_ts VARCHAR(40), churned VARCHAR(5), email VARCHAR(80)`;

function insertSql(from: number, to: number, placeholder: (i: number) => string): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const rows: string[] = [];
  for (let id = from; id <= to; id += 1) {
    const row = sampleRow(id);
    rows.push(`(${SAMPLE_FIELDS.map((f) => { params.push(row[f] === null ? null : f === 'monthly_spend' ? String(row[f]) : row[f]); return placeholder(params.length); }).join(',')})`);
  }
  return { sql: `INSERT INTO ${TABLE} (${SAMPLE_FIELDS.join(',')}) VALUES ${rows.join(',')}`, params };
}

type Exec = (sql: string, params?: unknown[]) => Promise<void>;

const kinds = [
  {
    kind: 'postgres' as const,
    url: PG_URL,
    placeholder: (i: number) => `$${i}`,
    connect: async (): Promise<{ exec: Exec; close: () => Promise<void> }> => {
      const { Client } = await import('pg');
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      return { exec: async (sql, params) => void (await client.query(sql, params)), close: () => client.end() };
    },
  },
  {
    kind: 'mysql' as const,
    url: MYSQL_URL,
    placeholder: () => '?',
    connect: async (): Promise<{ exec: Exec; close: () => Promise<void> }> => {
      const mysql = await import('mysql2/promise');
      const conn = await mysql.createConnection(MYSQL_URL);
      return { exec: async (sql, params) => void (await conn.query(sql, params)), close: () => conn.end() };
    },
  },
];

for (const db of kinds) {
  (databaseListening(db.kind) ? describe : describe.skip)(`${db.kind} source`, () => {
    let available = false;
    let conn: { exec: Exec; close: () => Promise<void> };
    beforeAll(async () => {
      available = await databaseAvailable(db.kind);
      if (!available) return;
      conn = await db.connect();
      await conn.exec(`DROP TABLE IF EXISTS ${TABLE}`);
      await conn.exec(`CREATE TABLE ${TABLE} (${COLUMNS})`);
      const { sql, params } = insertSql(1, 1500, db.placeholder);
      await conn.exec(sql, params);
    });
    afterAll(async () => {
      if (!available) return;
      await conn.exec(`DROP TABLE IF EXISTS ${TABLE}`);
      await conn.close();
    });

    it('streams a table in batches, then only rows above the watermark', async () => {
      if (!available) return;
      const store = new LocalObjectStore(makeTempDir());
      const project = testProject((ing) => {
        ing.database = { table: TABLE, batch_size: 200 };
        ing.raw_part_rows = 500;
      });
      const first = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: db.url });
      expect(first.rows.fetched).toBe(1500);
      expect(first.rows.processed + first.rows.quarantined).toBe(1500);
      expect(first.rawKeys).toHaveLength(3);
      expectEachIdOnce(await idsOf(store, first), 1, 1500);
      expect(first.watermark).toBe(1500);
      const { sql, params } = insertSql(1501, 1700, db.placeholder);
      await conn.exec(sql, params);
      const second = await runIngestion({ project, env: 'dev', cloud: 'local', store, source: db.url });
      expect(second.rows.fetched).toBe(200);
      expectEachIdOnce(await idsOf(store, second), 1501, 1700);
    });

    it('takes the query from the URL and checks selected fields against its columns before reading rows', async () => {
      if (!available) return;
      const project = testProject((_ing, p) => {
        p.parser.selected_fields = [...p.parser.selected_fields, 'loyalty_points'];
      });
      const store = new LocalObjectStore(makeTempDir());
      await expect(runIngestion({ project, env: 'dev', cloud: 'local', store, source: `${db.url}?table=${TABLE}` })).rejects.toThrow(
        /selected_fields names "loyalty_points".*the source has: customer_id, customer_age/,
      );
      expect(await store.list('')).toEqual([]);
    });

    it('builds a watermark query with the right placeholder and quoting', () => {
      const source = new DatabaseSource({ url: `${db.url}?query=${encodeURIComponent('SELECT * FROM t;')}`, config: testProject().parser.ingestion, watermarkColumn: 'customer_id' });
      const built = source.buildQuery({ since: 10, position: {} });
      expect(built.params).toEqual([10]);
      expect(built.sql).toBe(
        db.kind === 'postgres'
          ? 'SELECT * FROM (SELECT * FROM t) AS mlstack_src WHERE "customer_id" > $1 ORDER BY "customer_id"'
          : 'SELECT * FROM (SELECT * FROM t) AS mlstack_src WHERE `customer_id` > ? ORDER BY `customer_id`',
      );
      expect(source.description).not.toContain(':mlstack@');
    });
  });
}

it('a database URL without a query says how to give one', () => {
  expect(() => new DatabaseSource({ url: 'postgres://u:p@127.0.0.1/db', config: testProject().parser.ingestion })).toThrow(
    /no query: set parser.json ingestion.database.query \(or .table\), or add \?table=<name> to the URL/,
  );
});
