/**
 * `mlstack models list | show`: the project's registry versions in the environment's store, and where each is
 * pinned (config/environments/<env>.json `model_version`, what `mlstack promote` writes).
 */
import type { RunContext } from '../context';
import { ModelRegistry, type ModelVersion } from '../registry';
import { pinnedIn, pinnedVersions } from '../registry/pins';
import { formatValue } from '../tracking/query';
import { section, table } from './table';

/** Each environment's pinned version (null when none is pinned). */
export function pins(ctx: RunContext): Record<string, string | null> {
  return pinnedVersions(ctx.project);
}

function registryOf(ctx: RunContext): ModelRegistry {
  return new ModelRegistry(ctx.store, ctx.paths.registry, ctx.project.pipeline.project);
}

export function formatVersionList(versions: ModelVersion[], pinned: Record<string, string | null>, project: string): string {
  if (versions.length === 0) return `no registered versions for project ${project} (register one: mlstack train --register, or mlstack register --model <run>)\n`;
  const metrics = [...new Set(versions.flatMap((v) => Object.keys(v.metrics)))].sort();
  const header = ['version', 'created', 'run', 'pinned in', ...metrics];
  const body = versions.map((v) => [v.version, v.created_at, v.lineage.run_id, pinnedIn(pinned, v.version).join(',') || '-', ...metrics.map((m) => formatValue(v.metrics[m]))]);
  return `project ${project}: ${versions.length} version${versions.length === 1 ? '' : 's'}\n` + table([header, ...body]);
}

export async function listModels(ctx: RunContext, json: boolean): Promise<string> {
  const versions = await registryOf(ctx).list();
  const pinned = pins(ctx);
  if (json) return JSON.stringify(versions.map((v) => ({ ...v, pinned_in: pinnedIn(pinned, v.version) })), null, 2) + '\n';
  return formatVersionList(versions, pinned, ctx.project.pipeline.project);
}

export function formatVersion(v: ModelVersion, pinned: Record<string, string | null>): string {
  const where = Object.entries(pinned).map(([env, pin]): [string, string] => [env, pin === v.version ? `pinned (${v.version})` : `not pinned (${pin ?? 'nothing pinned'})`]);
  const files: Array<[string, string]> = [['package', v.package_uri], ...(v.artifact_uri ? [['artifact', v.artifact_uri] as [string, string]] : []), ...(v.evaluation_uri ? [['evaluation', v.evaluation_uri] as [string, string]] : [])];
  return [
    `${v.project} ${v.version} (created ${v.created_at}, run ${v.lineage.run_id})\n`,
    section('pinned', where),
    section('metrics', Object.keys(v.metrics).sort().map((k) => [k, formatValue(v.metrics[k])])),
    section('lineage', Object.keys(v.lineage).sort().map((k) => [k, formatValue((v.lineage as unknown as Record<string, string | null>)[k])])),
    section('files', files),
  ].join('');
}

export async function showModel(ctx: RunContext, version: string, json: boolean): Promise<string> {
  const record = await registryOf(ctx).get(version);
  const pinned = pins(ctx);
  return json ? JSON.stringify({ ...record, pinned_in: pinnedIn(pinned, version), environments: pinned }, null, 2) + '\n' : formatVersion(record, pinned);
}
