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

/**
 * The image tag that pins nothing: with it, stacks build images from the checkout and the registration
 * code cannot name the serving image a model package should record.
 */
export const UNPINNED_IMAGE_TAG = 'latest';

/**
 * How every image starts its bundle (the Dockerfiles' ENTRYPOINT). A platform that takes one command
 * line instead of arguments (an Azure ML command job) runs `imageCommand(launch.args)`.
 */
export const IMAGE_ENTRYPOINT = ['node', '--enable-source-maps', '/app/main.js'] as const;

export function imageCommand(args: readonly string[]): string {
  return [...IMAGE_ENTRYPOINT, ...args].join(' ');
}
