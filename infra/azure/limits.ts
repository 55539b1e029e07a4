/**
 * What Azure can run, checked against an environment's azure section: a GPU vm size where training
 * requires one, and no size Azure has retired (learn.microsoft.com, virtual-machines/sizes/migration-guides
 * and ncv3-retirement: after the date, remaining VMs are deallocated and new ones cannot be created).
 */
import type { WithCloud } from '../../config/schema';
import { isGpuVmSize } from '../../runtime/contract/azure-names';
import { LimitChecker, type LimitProblem } from '../cdktf/limits';

export interface RetiredVmSize {
  series: string;
  /** YYYY-MM-DD */
  retired: string;
  replacement: string;
}

const ONE_GPU = 'Standard_NC4as_T4_v3 (1 T4) or Standard_NC24ads_A100_v4 (1 A100)';
const TWO_GPUS = 'Standard_NC48ads_A100_v4 (2 A100)';
const FOUR_GPUS = 'Standard_NC64as_T4_v3 (4 T4) or Standard_NC96ads_A100_v4 (4 A100)';

function series(name: string, retired: string, sizes: Record<string, string>): [string, RetiredVmSize][] {
  return Object.entries(sizes).map(([size, replacement]) => [size.toLowerCase(), { series: name, retired, replacement }]);
}

/** Retired GPU sizes by lowercased name (NC v1 also had _Promo variants). */
export const RETIRED_GPU_VM_SIZES: ReadonlyMap<string, RetiredVmSize> = new Map([
  ...series('NC (K80)', '2023-09-06', {
    Standard_NC6: ONE_GPU,
    Standard_NC6_Promo: ONE_GPU,
    Standard_NC12: TWO_GPUS,
    Standard_NC12_Promo: TWO_GPUS,
    Standard_NC24: FOUR_GPUS,
    Standard_NC24_Promo: FOUR_GPUS,
    Standard_NC24r: FOUR_GPUS,
    Standard_NC24r_Promo: FOUR_GPUS,
  }),
  ...series('NCv2 (P100)', '2023-09-06', {
    Standard_NC6s_v2: ONE_GPU,
    Standard_NC12s_v2: TWO_GPUS,
    Standard_NC24s_v2: FOUR_GPUS,
    Standard_NC24rs_v2: FOUR_GPUS,
  }),
  ...series('NCv3 (V100)', '2025-09-30', {
    Standard_NC6s_v3: ONE_GPU,
    Standard_NC12s_v3: TWO_GPUS,
    Standard_NC24s_v3: FOUR_GPUS,
    Standard_NC24rs_v3: FOUR_GPUS,
  }),
  ...series('ND (P40)', '2023-09-06', {
    Standard_ND6s: ONE_GPU,
    Standard_ND12s: TWO_GPUS,
    Standard_ND24s: FOUR_GPUS,
    Standard_ND24rs: FOUR_GPUS,
  }),
  ...series('NV (M60)', '2023-09-06', {
    Standard_NV6: ONE_GPU,
    Standard_NV6_Promo: ONE_GPU,
    Standard_NV12: TWO_GPUS,
    Standard_NV12_Promo: TWO_GPUS,
    Standard_NV24: FOUR_GPUS,
    Standard_NV24_Promo: FOUR_GPUS,
  }),
]);

export function retiredVmSize(vmSize: string): RetiredVmSize | undefined {
  return RETIRED_GPU_VM_SIZES.get(vmSize.toLowerCase());
}

/** Every problem Azure would report for this environment's GPU cluster. */
export function azureLimitProblems(env: WithCloud<'azure'>): LimitProblem[] {
  const checker = new LimitChecker(env.name);
  const training = env.azure.training;
  const key = 'azure.training.instance_type';
  const retired = retiredVmSize(training.instance_type);
  if (retired) {
    checker.fail(key, training.instance_type, `Azure retired the ${retired.series} sizes on ${retired.retired}: use ${retired.replacement}`);
  } else if (training.require_gpu && !isGpuVmSize(training.instance_type)) {
    checker.fail(key, training.instance_type, 'training.require_gpu is true, so the vm size must be a GPU (N-series) size such as Standard_NC4as_T4_v3');
  }
  return checker.problems;
}
