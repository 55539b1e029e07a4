export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median microseconds per call over `samples` timed runs of enough calls to take about 20 ms each. */
export function microsPerCall(call: () => unknown, samples: number): number {
  let calls = 1;
  for (let elapsed = 0; elapsed < 20; calls *= 2) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) call();
    elapsed = performance.now() - start;
  }
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) call();
    times.push(((performance.now() - start) * 1000) / calls);
  }
  return median(times);
}
