import * as tf from '../../runtime/model/tf';
import { GpuRequiredError, selectBackend, type ModuleLoader } from '../../runtime/training/backend';

/** Simulates the native packages being absent or broken, as on this machine and any CPU-only host. */
function loaderWith(broken: Record<string, string>): ModuleLoader {
  return (name) => {
    if (broken[name]) throw new Error(broken[name]);
    return require(name);
  };
}

describe('backend selection', () => {
  it('falls back from tfjs-node-gpu and tfjs-node to wasm and logs why', async () => {
    const messages: { obj: any; msg: string }[] = [];
    const logger = { info: (obj: unknown, msg: string) => messages.push({ obj, msg }) } as never;
    const info = await selectBackend({
      logger,
      loader: loaderWith({ '@tensorflow/tfjs-node-gpu': 'libcudart.so.11.0: cannot open shared object file', '@tensorflow/tfjs-node': "Cannot find module '@tensorflow/tfjs-node'" }),
    });
    expect(info.name).toBe('wasm');
    expect(info.gpu).toBe(false);
    expect(tf.getBackend()).toBe('wasm');
    expect(info.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(info.skipped[0].reason).toMatch(/libcudart/);
    expect(messages[0].msg).toBe('tf backend: wasm');
  });

  it('falls back to the pure-JS cpu backend when wasm fails too', async () => {
    const info = await selectBackend({ loader: loaderWith({ '@tensorflow/tfjs-node-gpu': 'x', '@tensorflow/tfjs-node': 'x', '@tensorflow/tfjs-backend-wasm': 'wasm unavailable' }) });
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.skipped.find((s) => s.name === 'wasm')?.reason).toBe('wasm unavailable');
  });

  it('uses a native package when it loads (the GPU image case)', async () => {
    // A stand-in for tfjs-node-gpu: loading it registers a backend named "tensorflow".
    const fakeGpu: ModuleLoader = (name) => {
      if (name === '@tensorflow/tfjs-node-gpu') {
        const cpu = tf.findBackendFactory('cpu');
        tf.registerBackend('tensorflow', cpu as never);
        return {};
      }
      return require(name);
    };
    const info = await selectBackend({ loader: fakeGpu, requireGpu: true });
    expect(info).toMatchObject({ name: 'tensorflow-gpu', gpu: true, skipped: [] });
    tf.removeBackend('tensorflow');
  });

  it('fails clearly when a GPU is required and none loads', async () => {
    await expect(selectBackend({ requireGpu: true, loader: loaderWith({ '@tensorflow/tfjs-node-gpu': 'no CUDA', '@tensorflow/tfjs-node': 'missing' }) })).rejects.toThrow(GpuRequiredError);
    await expect(selectBackend({ requireGpu: true, loader: loaderWith({ '@tensorflow/tfjs-node-gpu': 'no CUDA', '@tensorflow/tfjs-node': 'missing' }) })).rejects.toThrow(
      /require_gpu: true, but no GPU backend loaded \(using wasm; tensorflow-gpu: no CUDA; tensorflow: missing\)/,
    );
  });

  it('can be pinned to one backend and reuses the first choice', async () => {
    const cpu = await selectBackend({ only: 'cpu' });
    expect(cpu.name).toBe('cpu');
    expect(await selectBackend({ only: 'cpu' })).toBe(cpu);
    await expect(selectBackend({ only: 'cpu', requireGpu: true })).rejects.toThrow(GpuRequiredError);
    await expect(selectBackend({ only: 'tensorflow', loader: loaderWith({ '@tensorflow/tfjs-node': 'missing' }) })).rejects.toThrow(/no TF.js backend could be initialised: tensorflow: missing/);
  });
});
