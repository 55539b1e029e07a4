/**
 * cdktf app entry (cdktf.json "app"): `npx cdktf synth` / `npx cdktf deploy gcp-staging`.
 * Also runnable directly: `node bin/run-ts.js infra/cdktf/main.ts` writes cdktf.out/ the same way.
 */
import { buildCdktfApp } from './app';

try {
  buildCdktfApp().synth();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
