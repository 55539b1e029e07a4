/** Cloud Run CPU and memory for a Compute Engine style machine type from config. */
export interface CloudRunSize {
  cpu: string;
  memory: string;
}

const CLOUD_RUN_CPUS = [1, 2, 4, 6, 8];
const MAX_MEMORY_GI = 32;
/** Cloud Run requires at least 4 CPU and 16 GiB for an instance with a GPU. */
const GPU_MIN_CPU = 4;
const GPU_MIN_MEMORY_GI = 16;

/**
 * "g2-standard-8" -> 8 CPU / 32Gi. Cloud Run has no machine types, so the vCPU
 * count (the trailing number) picks the nearest allowed CPU at or below it, and
 * memory follows at 4 GiB per CPU; GPU instances are raised to Cloud Run's minimum.
 */
export function cloudRunSize(machineType: string, withGpu: boolean): CloudRunSize {
  const match = /-(\d+)$/.exec(machineType);
  const vcpus = match ? Number(match[1]) : 1;
  let cpu = CLOUD_RUN_CPUS.filter((c) => c <= vcpus).pop() ?? 1;
  if (withGpu) cpu = Math.max(cpu, GPU_MIN_CPU);
  let memoryGi = Math.min(MAX_MEMORY_GI, cpu * 4);
  if (withGpu) memoryGi = Math.max(memoryGi, GPU_MIN_MEMORY_GI);
  return { cpu: String(cpu), memory: `${memoryGi}Gi` };
}
