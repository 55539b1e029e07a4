/**
 * Picks the fastest TF.js backend that loads here:
 *   @tensorflow/tfjs-node-gpu (CUDA) > @tensorflow/tfjs-node (libtensorflow) > wasm (SIMD) > cpu (pure JS).
 * The native packages are NOT dependencies of this project (their install script downloads
 * libtensorflow, which fails offline and on machines without CUDA): the GPU training image
 * installs @tensorflow/tfjs-node-gpu at build time and this module loads it by name.
 */
import * as path from 'node:path';
import * as tf from '../model/tf';
import type { Logger } from '../common/logger';
import { ENV } from '../contract/env';
import { silentLogger } from '../common/logger';
import { MlstackError } from '../common/errors';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** Whether the backend runs on a GPU. */
  gpu: boolean;
  /** Why faster backends were skipped, for the log. */
  skipped: { name: BackendName; reason: string }[];
}

/** Loads a module by name (injectable so tests can simulate a missing or broken package). */
export type ModuleLoader = (name: string) => unknown;

export class GpuRequiredError extends MlstackError {
  constructor(info: BackendInfo) {
    super(
      'BACKEND_UNAVAILABLE',
      `this environment's training config sets require_gpu: true, but no GPU backend loaded (using ${info.name}; ` +
        `${info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}). ` +
        'Run on a GPU instance with the training-gpu image (it installs @tensorflow/tfjs-node-gpu), or set training.require_gpu to false in config/environments/<env>.json.',
    );
    this.name = 'GpuRequiredError';
  }
}

const defaultLoader: ModuleLoader = (name) => require(name);

let selected: BackendInfo | undefined;

/** What a skipped backend's entry says when its package is simply absent (the usual case for the native ones). */
export const NOT_INSTALLED = 'not installed';

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
}

/**
 * Why an attempt failed, for the log: NOT_INSTALLED when `require` could not find the package itself (not a
 * missing library inside an installed one, such as libcudart: that is worth its full message).
 */
function skipReason(err: unknown, pkg: string | undefined): string {
  const line = firstLine(err);
  return pkg !== undefined && line.startsWith(`Cannot find module '${pkg}'`) ? NOT_INSTALLED : line;
}

/** The line that names the choice: a machine without the GPU package is the normal case, not a failure. */
function choiceMessage(info: BackendInfo): string {
  const gpu = info.skipped.find((s) => s.name === 'tensorflow-gpu');
  return gpu?.reason === NOT_INSTALLED ? `GPU backend not installed; using ${info.name}` : `tf backend: ${info.name}`;
}

async function tryNative(pkg: string, loader: ModuleLoader): Promise<void> {
  loader(pkg);
  // Both native packages register the "tensorflow" backend with tfjs-core.
  if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
}

async function tryWasm(loader: ModuleLoader): Promise<void> {
  const wasm = loader('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + path.sep);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
}

export interface SelectBackendOptions {
  logger?: Logger;
  loader?: ModuleLoader;
  /** Fail with GpuRequiredError when no GPU backend loads (cloud training with require_gpu). */
  requireGpu?: boolean;
  /** Skip faster backends, e.g. ['tensorflow-gpu','tensorflow','wasm'] to benchmark cpu; the ENV.tfBackend variable (wasm, cpu) also forces one. */
  only?: BackendName;
}

/** Selects and initialises a backend; repeated calls reuse the first choice unless `only` changes it. */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendInfo> {
  // PROD silences tfjs's console banner suggesting tfjs-node (this module makes that choice and logs it).
  tf.env().set('PROD', true);
  const logger = options.logger ?? silentLogger;
  const loader = options.loader ?? defaultLoader;
  const only = options.only ?? (process.env[ENV.tfBackend] as BackendName | undefined);
  if (selected && !options.loader && (!only || only === selected.name) && tf.getBackend() === tfBackendOf(selected.name)) {
    if (options.requireGpu && !selected.gpu) throw new GpuRequiredError(selected);
    return selected;
  }
  const attempts: { name: BackendName; pkg?: string; run: () => Promise<void> }[] = [
    { name: 'tensorflow-gpu', pkg: '@tensorflow/tfjs-node-gpu', run: () => tryNative('@tensorflow/tfjs-node-gpu', loader) },
    { name: 'tensorflow', pkg: '@tensorflow/tfjs-node', run: () => tryNative('@tensorflow/tfjs-node', loader) },
    { name: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm', run: () => tryWasm(loader) },
    {
      name: 'cpu',
      run: async () => {
        if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      },
    },
  ];
  const skipped: BackendInfo['skipped'] = [];
  for (const attempt of attempts) {
    if (only && attempt.name !== only) continue;
    try {
      await attempt.run();
      await tf.ready();
      const info: BackendInfo = { name: attempt.name, gpu: attempt.name === 'tensorflow-gpu', skipped };
      // info, not warn: the CLI (warn by default) stays quiet about it; containers (info) record it.
      logger.info({ backend: info.name, gpu: info.gpu, skipped }, choiceMessage(info));
      if (options.requireGpu && !info.gpu) throw new GpuRequiredError(info);
      if (!options.loader) selected = info;
      return info;
    } catch (err) {
      if (err instanceof GpuRequiredError) throw err;
      skipped.push({ name: attempt.name, reason: skipReason(err, attempt.pkg) });
    }
  }
  throw new MlstackError('BACKEND_UNAVAILABLE', `no TF.js backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

function tfBackendOf(name: BackendName): string {
  return name === 'tensorflow-gpu' ? 'tensorflow' : name;
}
