import type { IngestionConfig } from '../../config/schema';
import { redactUrl } from './rest-source';
import type { IngestionSource, ReadStart, SourcePage, SourceRecord } from './types';
import { ConfigInvalidError, UsageError } from '../common/errors';

export type DatabaseKind = 'postgres' | 'mysql';

export function databaseKindOf(url: string): DatabaseKind | undefined {
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres';
  if (/^mysql:\/\//i.test(url)) return 'mysql';
  return undefined;
}

export interface DatabaseSourceOptions {
  url: string;
  config: IngestionConfig;
  /** Source-side name of the watermark column, when the run is incremental. */
  watermarkColumn?: string;
}

/**
 * A PostgreSQL (pg-cursor) or MySQL (row stream) query read `batch_size` rows at a time, never the whole
 * result in memory. The query comes from ingestion.database.query/table or the URL's ?table= / ?query=.
 * With a watermark the query is wrapped: rows above the last watermark, ordered by it.
 */
export class DatabaseSource implements IngestionSource {
  readonly description: string;
  readonly filtersByWatermark = true;
  readonly kind: DatabaseKind;
  private columns?: string[];
  private readonly baseQuery: string;
  private readonly connectionUrl: string;

  constructor(private readonly options: DatabaseSourceOptions) {
    const kind = databaseKindOf(options.url);
    if (!kind) throw new UsageError(`"${redactUrl(options.url)}" is not a postgres:// or mysql:// URL`);
    this.kind = kind;
    const url = new URL(options.url);
    const db = options.config.database;
    const table = db?.table ?? url.searchParams.get('table') ?? undefined;
    const query = db?.query ?? url.searchParams.get('query') ?? undefined;
    url.searchParams.delete('table');
    url.searchParams.delete('query');
    if (query === undefined && table === undefined) {
      throw new ConfigInvalidError(`${redactUrl(options.url)}: no query: set parser.json ingestion.database.query (or .table), or add ?table=<name> to the URL`);
    }
    if (table !== undefined && !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(table)) throw new UsageError(`invalid table name "${table}"`);
    this.baseQuery = query ?? `SELECT * FROM ${table}`;
    this.connectionUrl = url.toString();
    this.description = `${redactUrl(this.connectionUrl)} (${this.baseQuery.replace(/\s+/g, ' ').slice(0, 120)})`;
  }

  get declaredFields(): readonly string[] | undefined {
    return this.options.config.source_fields ?? this.columns;
  }

  fieldNames(): readonly string[] | undefined {
    return this.declaredFields;
  }

  private quote(name: string): string {
    return this.kind === 'postgres' ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``;
  }

  /** The SQL and its parameters for a read that starts at `start`. */
  buildQuery(start: ReadStart): { sql: string; params: unknown[] } {
    const column = this.options.watermarkColumn;
    const inner = this.baseQuery.trim().replace(/;\s*$/, '');
    if (column === undefined) return { sql: inner, params: [] };
    const col = this.quote(column);
    const placeholder = this.kind === 'postgres' ? '$1' : '?';
    if (start.since === null) return { sql: `SELECT * FROM (${inner}) AS mlstack_src ORDER BY ${col}`, params: [] };
    return { sql: `SELECT * FROM (${inner}) AS mlstack_src WHERE ${col} > ${placeholder} ORDER BY ${col}`, params: [start.since] };
  }

  /** Reads the query's column names without fetching rows, so a bad selected_fields fails before any fetch. */
  async prepare(): Promise<void> {
    const inner = this.baseQuery.trim().replace(/;\s*$/, '');
    const sql = `SELECT * FROM (${inner}) AS mlstack_src LIMIT 0`;
    if (this.kind === 'postgres') {
      const { Client } = await import('pg');
      const client = new Client({ connectionString: this.connectionUrl });
      await client.connect();
      try {
        const result = await client.query(sql);
        this.columns = result.fields.map((f) => f.name);
      } finally {
        await client.end();
      }
    } else {
      const mysql = await import('mysql2/promise');
      const conn = await mysql.createConnection(this.connectionUrl);
      try {
        const [, fields] = await conn.query(sql);
        this.columns = (fields as { name: string }[]).map((f) => f.name);
      } finally {
        await conn.end();
      }
    }
  }

  async *pages(start: ReadStart): AsyncIterable<SourcePage> {
    const rows = this.kind === 'postgres' ? this.postgresBatches(start) : this.mysqlBatches(start);
    const skip = start.position.offset ?? 0;
    let offset = 0;
    for await (const batch of rows) {
      const kept = offset >= skip ? batch : batch.slice(Math.max(0, skip - offset));
      offset += batch.length;
      if (kept.length > 0) yield { records: kept, next: { offset } };
    }
  }

  private async *postgresBatches(start: ReadStart): AsyncIterable<SourceRecord[]> {
    const { Client } = await import('pg');
    const { default: Cursor } = await import('pg-cursor');
    const client = new Client({ connectionString: this.connectionUrl });
    await client.connect();
    const { sql, params } = this.buildQuery(start);
    const cursor = client.query(new Cursor(sql, params));
    const size = this.options.config.database?.batch_size ?? 1000;
    try {
      for (;;) {
        const rows = await cursor.read(size);
        if (rows.length === 0) return;
        yield rows;
      }
    } finally {
      await cursor.close().catch(() => undefined);
      await client.end();
    }
  }

  private async *mysqlBatches(start: ReadStart): AsyncIterable<SourceRecord[]> {
    const mysql = await import('mysql2');
    const conn = mysql.createConnection(this.connectionUrl);
    const { sql, params } = this.buildQuery(start);
    const size = this.options.config.database?.batch_size ?? 1000;
    const stream = conn.query(sql, params).stream({ highWaterMark: size });
    let batch: SourceRecord[] = [];
    try {
      for await (const row of stream as AsyncIterable<SourceRecord>) {
        batch.push(row);
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      // destroy, not end: end() would wait for a result the consumer stopped reading (an error mid-run).
      stream.destroy();
      conn.destroy();
    }
  }
}
