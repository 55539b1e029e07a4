import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { EnvironmentName, IngestionConfig, ProjectConfig } from '../../config/schema';
import { storagePaths, type StoragePaths, type StoreCloud } from '../../runtime/contract/layout';
import type { IngestionResult } from '../../runtime/ingestion';
import type { ObjectStore } from '../../runtime/storage/object-store';
import { copyConfig } from './tmp';

/** The repository config with ingestion tuned for tests: no rate limit to speak of, millisecond backoffs. */
export function testProject(edit?: (ingestion: IngestionConfig, project: ProjectConfig) => void): ProjectConfig {
  const project = loadProjectConfig(copyConfig());
  const ingestion = project.parser.ingestion;
  ingestion.rate_limit = { per_second: 100_000, burst: 1000 };
  ingestion.retries = { max_attempts: 6, base_delay_ms: 1, max_delay_ms: 5, max_retry_after_ms: 5000 };
  ingestion.timeout_ms = 2000;
  ingestion.pagination.page_size = 100;
  edit?.(ingestion, project);
  return project;
}

/** The project's prefixes (with its `<project>/` level) where runIngestion writes for `env` on `cloud`. */
export function projectPaths(project: ProjectConfig, env: EnvironmentName = 'dev', cloud: StoreCloud = 'local'): StoragePaths {
  return storagePaths(project.environments[env], cloud, project.pipeline.project);
}

/** Reads a run's processed CSV ids and quarantined record ids, to check nothing is lost or duplicated. */
export async function idsOf(store: ObjectStore, result: IngestionResult): Promise<{ processed: number[]; quarantined: number[] }> {
  const csv = (await store.get(result.processedKey)).toString('utf8').trim().split('\n');
  const header = csv[0].split(',');
  const idIndex = header.indexOf('id');
  const processed = csv.slice(1).map((line) => Number(line.split(',')[idIndex]));
  const qText = (await store.get(result.quarantineKey)).toString('utf8').trim();
  const quarantined = qText === '' ? [] : qText.split('\n').map((l) => Number((JSON.parse(l).record as { customer_id?: unknown })?.customer_id));
  return { processed, quarantined };
}

/** Asserts every id in 1..n appears exactly once across processed and quarantined rows. */
export function expectEachIdOnce(ids: { processed: number[]; quarantined: number[] }, from: number, to: number): void {
  const all = [...ids.processed, ...ids.quarantined].sort((a, b) => a - b);
  const expected = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  expect(all).toEqual(expected);
}

export function readLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').trim().split('\n');
}

export const repoRoot = path.resolve(__dirname, '..', '..');
