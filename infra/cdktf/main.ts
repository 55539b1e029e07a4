/**
 * cdktf app entry (cdktf.json "app"): `npx cdktf synth` / `npx cdktf deploy gcp-staging`.
 * Also runnable directly: `node bin/run-ts.js infra/cdktf/main.ts` writes cdktf.out/ the same way
 * (SYNTH_HCL_OUTPUT=true writes formatted Terraform HCL, as `cdktf synth --hcl` does).
 */
import { buildCdktfApp, synthCdktfApp } from './app';

function fail(err: unknown): never {
  console.error((err as Error).message);
  process.exit(1);
}

try {
  // app.synth() runs before the first await: the stacks are written when this module has loaded.
  synthCdktfApp(buildCdktfApp()).catch(fail);
} catch (err) {
  fail(err);
}
