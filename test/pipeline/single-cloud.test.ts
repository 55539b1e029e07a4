/**
 * A team on one cloud: every environment configures only AWS. The local pipeline (what `npm start` runs) still
 * walks ingest -> serve in the layout AWS would use, the CDK app declares that environment's stacks and the cdktf
 * app declares none.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { mlAppStackNames } from '../../infra/aws/build-app';
import { cdktfStackNames } from '../../infra/cdktf/app';
import { storagePaths } from '../../runtime/contract/layout';
import { runCli } from '../helpers/cli';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

function awsOnlyConfig(): string {
  const dir = copyConfig();
  editJson(path.join(dir, 'pipeline.json'), (doc) => {
    doc.training_params.epochs = 2;
  });
  for (const env of ['dev', 'qa', 'staging', 'prod']) {
    editJson(path.join(dir, 'environments', `${env}.json`), (doc) => {
      delete doc.gcp;
      delete doc.azure;
      doc.aws.storage.processed_path = 'tables/processed/';
    });
  }
  return dir;
}

describe('an AWS-only project', () => {
  test('npm start\'s pipeline runs locally in the AWS layout; stacks exist for AWS only', async () => {
    const configDir = awsOnlyConfig();
    const config = loadProjectConfig(configDir);
    const workdir = makeTempDir('mlstack-aws-only-');
    const run = await runCli(['pipeline', '--env', 'dev', '--cloud', 'local', '--config-dir', configDir, '--workdir', workdir, '--sample-rows', '1500', '--json']);
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    const summary = JSON.parse(run.stdout);
    expect(summary.model_version).toBe('v1');
    expect(summary.artifacts.processed).toContain(`/${storagePaths(config.environments.dev, 'local', config.pipeline.project).processed}`);
    expect(fs.existsSync(path.join(workdir, 'tables', 'processed'))).toBe(true);

    expect(mlAppStackNames({ configDir })).toEqual(['dev', 'qa', 'staging', 'prod'].flatMap((env) => [`MlStack-${env}-registry`, `MlStack-${env}`]));
    expect(cdktfStackNames(config)).toEqual([]);
  }, 180_000);
});
