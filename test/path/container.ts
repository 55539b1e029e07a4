/**
 * Starts a bundle the way a platform starts its image: `node main.js <args>` in the bundle folder (no
 * node_modules), with exactly the environment given (what the stack declares, what the image sets, what the
 * platform adds, and the emulator endpoints/credentials that stand in for the cloud's), recording which
 * variables the process reads (env-reads.js).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../helpers/tmp';

const RECORDER = path.join(__dirname, 'env-reads.js');

export interface ContainerEnv {
  /** Declared by the stack (read out of the template / Terraform JSON). */
  declared: Record<string, string>;
  /** Set by the image (its Dockerfile ENV). */
  image?: Record<string, string>;
  /** Set by the platform at start (TRAINING_JOB_NAME, PORT, CLOUD_RUN_EXECUTION, ...). */
  platform?: Record<string, string>;
  /** Endpoints and credentials of the emulators standing in for the cloud's services. */
  emulators?: Record<string, string>;
}

export interface Container {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Variable names the process read, available after it exited. */
  reads(): string[];
}

export function startContainer(bundleDir: string, args: string[], env: ContainerEnv): Container {
  const readsDir = makeTempDir('mlstack-env-reads-');
  const readsFile = path.join(readsDir, 'reads');
  const fullEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...env.image,
    ...env.platform,
    ...env.emulators,
    ...env.declared,
    ENV_READS_FILE: readsFile,
  };
  const child = spawn(process.execPath, ['--require', RECORDER, '--enable-source-maps', 'main.js', ...args], {
    cwd: bundleDir,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    // The container's processes (a server's workers too), each recorded in its own file.
    reads: () => [...new Set(fs.readdirSync(readsDir).flatMap((f) => JSON.parse(fs.readFileSync(path.join(readsDir, f), 'utf8')) as string[]))].sort(),
  };
}

/** Runs a container to completion; throws with its output when it does not exit 0. */
export async function runContainer(bundleDir: string, args: string[], env: ContainerEnv, what: string): Promise<{ output: string; reads: string[] }> {
  const container = startContainer(bundleDir, args, env);
  const { code, signal } = await container.exited;
  if (code !== 0) throw new Error(`${what} exited ${code ?? signal}:\n${container.output()}`);
  return { output: container.output(), reads: container.reads() };
}

/** The declared variables a container never read: each one is a contract break. */
export function unreadDeclared(declared: Record<string, string>, reads: string[]): string[] {
  const read = new Set(reads);
  return Object.keys(declared).filter((name) => !read.has(name)).sort();
}
