/**
 * SageMaker instance families, classified by what the constructs need to know.
 * Families: https://aws.amazon.com/sagemaker/pricing/ (ml.p* and ml.g* carry NVIDIA GPUs).
 */
const SAGEMAKER_INSTANCE = /^ml\.([a-z]+)(\d+)([a-z-][a-z0-9-]*)?\.(\d*x?large|\d+xlarge|medium|small|micro|nano|metal)$/;

interface ParsedType {
  /** Family letters: "g" of ml.g5.2xlarge. */
  letters: string;
  /** Letters, generation and attributes: "g4dn" of ml.g4dn.xlarge, "p5en" of ml.p5en.48xlarge. */
  family: string;
  /** Attributes after the generation: "dn" of g4dn, "" of g5. */
  attributes: string;
}

function parse(instanceType: string): ParsedType | undefined {
  const m = SAGEMAKER_INSTANCE.exec(instanceType);
  if (!m) return undefined;
  const attributes = m[3] ?? '';
  return { letters: m[1], family: `${m[1]}${m[2]}${attributes}`, attributes };
}

/** Parses `ml.g5.2xlarge` into its family letters ("g"); undefined when the name is not an ml.* type. */
export function instanceFamily(instanceType: string): string | undefined {
  return parse(instanceType)?.letters;
}

export function isSageMakerInstanceType(instanceType: string): boolean {
  return parse(instanceType) !== undefined;
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

/**
 * Families with NVMe instance storage whose names carry no "d" attribute (EC2 instance store
 * volumes table; SageMaker's training storage guide names ml.p4d, ml.g4dn and ml.g5).
 */
const INSTANCE_STORAGE_FAMILIES: ReadonlySet<string> = new Set(['g5', 'g6', 'g6e', 'gr6', 'p5', 'p5e', 'p5en', 'trn1', 'trn1n', 'trn2']);

/**
 * True for types with local (NVMe) instance storage: ml.g4dn, ml.g5, ml.g6(e), ml.p3dn, ml.p4d(e),
 * ml.p5*, ml.p6*, ml.trn1/2 and every "d" variant (ml.m5d, ml.c5d, ml.r5d, ml.m6id, ml.c6gd ...).
 * SageMaker mounts that storage instead of an EBS volume and encrypts it in hardware, and its API
 * rejects a VolumeKmsKeyId for these types (ResourceConfig, ProcessingClusterConfig).
 */
export function hasInstanceStorage(instanceType: string): boolean {
  const parsed = parse(instanceType);
  if (!parsed) return false;
  return parsed.attributes.includes('d') || INSTANCE_STORAGE_FAMILIES.has(parsed.family) || /^p6/.test(parsed.family);
}

/**
 * `{ VolumeKmsKeyId }` for an EBS-backed type; `{}` for a type with instance storage, whose
 * storage SageMaker encrypts itself and for which it rejects the key.
 */
export function volumeKmsKeyFor(instanceType: string, keyArn: string): { VolumeKmsKeyId?: string } {
  return hasInstanceStorage(instanceType) ? {} : { VolumeKmsKeyId: keyArn };
}
