/** The three images every cloud runs; containers/<name>/Dockerfile builds each. */
export const IMAGE_NAMES = ['ingestion', 'training-gpu', 'serving'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/** `<registry>/<name>:<tag>`, e.g. `us-central1-docker.pkg.dev/p/repo/serving:latest`. */
export function imageRef(registry: string, name: ImageName, tag: string): string {
  return `${registry}/${name}:${tag}`;
}

/**
 * The serving container contract shared by SageMaker, Vertex AI and Azure: one
 * image, `serve` argument, readiness on GET /ping (503 while the model loads),
 * liveness on GET /live (200 once the process answers; see runtime/serving/routes.ts).
 * Container Apps needs a fixed port; Cloud Run passes it as PORT.
 */
export const SERVING_CONTRACT = {
  args: ['serve'],
  healthPath: '/ping',
  livenessPath: '/live',
  port: 8080,
} as const;
