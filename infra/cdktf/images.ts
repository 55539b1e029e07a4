/** The three images every cloud runs; containers/<name>/Dockerfile builds each. */
export const IMAGE_NAMES = ['ingestion', 'training-gpu', 'serving'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/** `<registry>/<name>:<tag>`, e.g. `us-central1-docker.pkg.dev/p/repo/serving:latest`. */
export function imageRef(registry: string, name: ImageName, tag: string): string {
  return `${registry}/${name}:${tag}`;
}

/**
 * The serving container contract shared by SageMaker, Vertex AI and Azure: one
 * image, `serve` argument, health on GET /ping; Container Apps needs a fixed port.
 */
export const SERVING_CONTRACT = {
  args: ['serve'],
  healthPath: '/ping',
  port: 8080,
} as const;
