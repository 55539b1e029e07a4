import { CLOUD_RUN_GPU_TYPES } from '../../runtime/contract/gcp-names';

/** Cloud Run CPU and memory for a Compute Engine style machine type from config. */
export interface CloudRunSize {
  cpu: string;
  memory: string;
}

export type CloudRunGpu = (typeof CLOUD_RUN_GPU_TYPES)[number];

/** Whole CPU counts a Cloud Run instance without a GPU takes, and memory at most 4 GiB per CPU up to 32 GiB. */
const CLOUD_RUN_CPUS = [1, 2, 4, 6, 8];
const MAX_MEMORY_GI = 32;
const MEMORY_GI_PER_CPU = 4;

/**
 * CPU and memory an instance with each GPU must have (cloud.google.com/run/docs/configuring/jobs/gpu):
 * L4 at least 4 CPU and 16 GiB (and at most Cloud Run's 8 CPU / 32 GiB); RTX PRO 6000 at least 20 CPU and
 * 80 GiB. No maximum is published for the RTX PRO 6000, so it gets exactly its minimum.
 */
export const CLOUD_RUN_GPU_SIZES: Record<CloudRunGpu, { minCpu: number; minMemoryGi: number; maxCpu: number; maxMemoryGi: number }> = {
  'nvidia-l4': { minCpu: 4, minMemoryGi: 16, maxCpu: 8, maxMemoryGi: 32 },
  'nvidia-rtx-pro-6000': { minCpu: 20, minMemoryGi: 80, maxCpu: 20, maxMemoryGi: 80 },
};

export function isCloudRunGpu(value: string | null): value is CloudRunGpu {
  return value !== null && (CLOUD_RUN_GPU_TYPES as readonly string[]).includes(value);
}

/**
 * "g2-standard-8" -> 8 CPU / 32Gi. Cloud Run has no machine types, so the vCPU count (the trailing
 * number) picks the nearest allowed CPU at or below it and memory follows at 4 GiB per CPU; with a GPU
 * both are held inside that GPU's minimum and maximum.
 */
export function cloudRunSize(machineType: string, gpu: CloudRunGpu | null): CloudRunSize {
  const match = /-(\d+)$/.exec(machineType);
  const vcpus = match ? Number(match[1]) : 1;
  let cpu = CLOUD_RUN_CPUS.filter((c) => c <= vcpus).pop() ?? 1;
  let memoryGi = Math.min(MAX_MEMORY_GI, cpu * MEMORY_GI_PER_CPU);
  if (gpu) {
    const limits = CLOUD_RUN_GPU_SIZES[gpu];
    cpu = clamp(cpu, limits.minCpu, limits.maxCpu);
    memoryGi = clamp(memoryGi, limits.minMemoryGi, limits.maxMemoryGi);
  }
  return { cpu: String(cpu), memory: `${memoryGi}Gi` };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
