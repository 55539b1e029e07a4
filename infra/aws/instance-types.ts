/**
 * SageMaker instance families, classified by what the constructs need to know.
 * Families: https://aws.amazon.com/sagemaker/pricing/ (ml.p* and ml.g* carry NVIDIA GPUs).
 */
const SAGEMAKER_INSTANCE = /^ml\.([a-z]+)(\d+)([a-z-]*)\.(\d*x?large|\d+xlarge|medium|small|micro|nano|metal)$/;

/** Parses `ml.g5.2xlarge` into its family letters ("g"); undefined when the name is not an ml.* type. */
export function instanceFamily(instanceType: string): string | undefined {
  const m = SAGEMAKER_INSTANCE.exec(instanceType);
  return m ? m[1] : undefined;
}

export function isSageMakerInstanceType(instanceType: string): boolean {
  return instanceFamily(instanceType) !== undefined;
}

/** ml.p* (A100/H100/V100) and ml.g* (T4/A10G/L4/L40S) are the SageMaker instances with NVIDIA GPUs. */
export function isGpuInstanceType(instanceType: string): boolean {
  const family = instanceFamily(instanceType);
  return family === 'p' || family === 'g';
}

/** Burstable ml.t* instances: SageMaker hosting rejects them for autoscaled real-time endpoints. */
export function isBurstableInstanceType(instanceType: string): boolean {
  return instanceFamily(instanceType) === 't';
}
