import { spawn } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface ProcessRun {
  ms: number;
  maxRssMb: number;
  /** user + system CPU time of the process: steadier than wall time on a shared machine. */
  cpuMs: number;
}

/** Runs a TypeScript entry (or only tsx's start-up when null) in a fresh node; its wall time, peak RSS and CPU time. */
export function runTsEntry(entry: string | null, env: NodeJS.ProcessEnv, what = 'benchmark child'): Promise<ProcessRun> {
  const script = [
    "require('tsx/cjs');",
    "process.on('exit', () => { const u = process.resourceUsage(); process.stderr.write('\\nMAXRSS_KB ' + u.maxRSS + ' CPU_US ' + (u.userCPUTime + u.systemCPUTime) + '\\n'); });",
    entry ? `require(${JSON.stringify(entry)});` : '',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const usage = /MAXRSS_KB (\d+) CPU_US (\d+)/.exec(stderr);
      if (code !== 0 || !usage) return reject(new Error(`${what} failed (exit ${code}):\n${stderr.slice(-2000)}`));
      resolve({ ms, maxRssMb: Number(usage[1]) / 1024, cpuMs: Number(usage[2]) / 1000 });
    });
  });
}

/** `runs` fresh processes of `entry`, each after a baseline process (tsx start-up only), interleaved so both see the same load. */
export async function runAgainstBaseline(entry: string, env: NodeJS.ProcessEnv, runs: number): Promise<{ runs: ProcessRun[]; baselineMs: number[] }> {
  const baselineMs: number[] = [];
  const measured: ProcessRun[] = [];
  for (let i = 0; i < runs; i++) {
    baselineMs.push((await runTsEntry(null, env)).ms);
    measured.push(await runTsEntry(entry, env));
  }
  return { runs: measured, baselineMs };
}

/** Wall time of one command run from the repository root; rejects when it exits non-zero. */
export function timeCommand(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${command} ${args.join(' ')} exited ${code}`))));
  });
}
