/**
 * What Cloud Run can run (cloud.google.com/run/docs: configuring/task-timeout, configuring/jobs/gpu,
 * configuring/cpu, configuring/memory-limits), checked against an environment's gcp section.
 */
import type { WithCloud } from '../../config/schema';
import { CLOUD_RUN_GPU_TYPES } from '../../runtime/contract/gcp-names';
import { LimitChecker, type LimitProblem } from '../cdktf/limits';
import { CLOUD_RUN_GPU_SIZES, isCloudRunGpu } from './sizing';

/** Task timeout of a Cloud Run job with a GPU (GA; 12 h is a preview). */
export const CLOUD_RUN_GPU_TASK_TIMEOUT_S = 3600;
/** Task timeout of a Cloud Run job without a GPU: 168 h. */
export const CLOUD_RUN_TASK_TIMEOUT_S = 168 * 3600;

const GPU_LIST = CLOUD_RUN_GPU_TYPES.join(', ');
/** "nvidia-l4 (at least 4 CPU / 16 GiB, sized by the stack), ..." */
const GPU_OFFER = Object.entries(CLOUD_RUN_GPU_SIZES)
  .map(([gpu, size]) => `${gpu} (at least ${size.minCpu} CPU / ${size.minMemoryGi} GiB, sized by the stack)`)
  .join(', ');

/** Cloud Run CPU values above 1 and the memory range each allows (GiB). */
const CPU_MEMORY_GI: Record<number, { min: number; max: number }> = {
  1: { min: 0.125, max: 4 },
  2: { min: 0.125, max: 8 },
  4: { min: 2, max: 16 },
  6: { min: 4, max: 24 },
  8: { min: 4, max: 32 },
};

/** Every problem Cloud Run would report for this environment's training job and serving service. */
export function gcpLimitProblems(env: WithCloud<'gcp'>): LimitProblem[] {
  const checker = new LimitChecker(env.name);
  checkTraining(env, checker);
  checkServing(env, checker);
  return checker.problems;
}

function checkTraining(env: WithCloud<'gcp'>, checker: LimitChecker): void {
  const training = env.gcp.training;
  const key = (name: string) => `gcp.training.${name}`;
  if (training.gpu_type !== null && !isCloudRunGpu(training.gpu_type)) {
    checker.fail(key('gpu_type'), training.gpu_type, `Cloud Run attaches only ${GPU_OFFER}; null for CPU training`);
  }
  if (training.gpu_count > 1) {
    checker.fail(key('gpu_count'), training.gpu_count, 'Cloud Run attaches one GPU per instance: set gpu_count to 1 (0 for CPU training)');
  }
  if (training.gpu_count > 0 && training.gpu_type === null) {
    checker.fail(key('gpu_type'), null, `gpu_count is ${training.gpu_count}: name the GPU (${GPU_LIST})`);
  }
  const withGpu = training.gpu_type !== null && training.gpu_count > 0;
  const timeout = withGpu ? CLOUD_RUN_GPU_TASK_TIMEOUT_S : CLOUD_RUN_TASK_TIMEOUT_S;
  if (training.max_runtime_seconds > timeout) {
    checker.fail(
      key('max_runtime_seconds'),
      training.max_runtime_seconds,
      withGpu
        ? `a Cloud Run job task with a GPU runs at most ${timeout} s (1 h); a retried task resumes from its checkpoint`
        : `a Cloud Run job task runs at most ${timeout} s (168 h)`,
    );
  }
  if (training.spot) {
    checker.fail(key('spot'), true, 'Cloud Run jobs have no spot capacity: set spot to false');
  }
  if (training.instance_count > 1) {
    checker.fail(key('instance_count'), training.instance_count, 'a Cloud Run job execution runs one training task: set instance_count to 1');
  }
}

function checkServing(env: WithCloud<'gcp'>, checker: LimitChecker): void {
  const serving = env.gcp.serving;
  if (serving.gpu_type !== null) {
    if (!isCloudRunGpu(serving.gpu_type)) {
      checker.fail('gcp.serving.gpu_type', serving.gpu_type, `Cloud Run attaches only ${GPU_OFFER}; null for CPU serving`);
    }
    // With a GPU the stack sizes CPU and memory itself (cloudRunSize), inside that GPU's bounds.
    return;
  }
  const cpu = Number(serving.cpu);
  const memoryGi = parseMemoryGi(serving.memory);
  const fractional = cpu >= 0.08 && cpu < 1;
  const range = CPU_MEMORY_GI[cpu];
  if (!fractional && !range) {
    checker.fail('gcp.serving.cpu', serving.cpu, 'Cloud Run takes 1, 2, 4, 6 or 8 CPU, or a fraction from 0.08 to 1');
    return;
  }
  if (memoryGi === undefined) {
    checker.fail('gcp.serving.memory', serving.memory, 'expected a size such as "512Mi" or "2Gi"');
    return;
  }
  const max = fractional ? (cpu < 0.5 ? 0.5 : 1) : range!.max;
  const min = fractional ? 0.125 : range!.min;
  if (memoryGi < min || memoryGi > max) {
    checker.fail('gcp.serving.memory', serving.memory, `Cloud Run gives ${serving.cpu} CPU between ${min} and ${max} GiB of memory`);
  }
}

function parseMemoryGi(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(value.trim());
  if (!match) return undefined;
  return match[2] === 'Gi' ? Number(match[1]) : Number(match[1]) / 1024;
}
