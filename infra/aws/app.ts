/**
 * The CDK app (cdk.json): `npx cdk ls`, `npx cdk synth`, `npx cdk deploy MlStack-<env>` (which deploys
 * MlStack-<env>-registry, the ECR repositories, first; `npx cdk deploy MlStack-<env>-registry` deploys it alone).
 * Reads config from the folder named by ENV.configDir (runtime/contract/env.ts), default ./config.
 */
import { ConfigError } from '../../config/load';
import { buildMlApp } from './build-app';
import { ConstructPropsError } from './validation';

try {
  buildMlApp().app.synth();
} catch (error) {
  if (error instanceof ConfigError || error instanceof ConstructPropsError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
