import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdktf';
import { loadProjectConfig } from '../../../config/load';
import { buildCdktfApp, cdktfStackNames } from '../../../infra/cdktf/app';
import { chooseBackend } from '../../../infra/cdktf/backend';
import { ScheduleError, toUnixCron } from '../../../infra/cdktf/schedule';
import { GcpMlStack } from '../../../infra/gcp/stack';
import { copyConfig, editJson, makeTempDir } from '../../helpers/tmp';

const EIGHT = ['gcp-dev', 'gcp-qa', 'gcp-staging', 'gcp-prod', 'azure-dev', 'azure-qa', 'azure-staging', 'azure-prod'];

describe('the cdktf app (cdktf.json "app": infra/cdktf/main.ts)', () => {
  test('cdktf.json runs infra/cdktf/main.ts through bin/run-ts.js', () => {
    const cdktfJson = JSON.parse(fs.readFileSync('cdktf.json', 'utf8'));
    expect(cdktfJson.app).toBe('node bin/run-ts.js infra/cdktf/main.ts');
    expect(cdktfStackNames().sort()).toEqual([...EIGHT].sort());
  });

  test('main.ts writes all eight stacks, offline, with local state by default', () => {
    const outdir = makeTempDir('mlstack-cdktf-out-');
    const saved = { out: process.env.CDKTF_OUTDIR, gcs: process.env.MLSTACK_TF_GCS_BUCKET, az: process.env.MLSTACK_TF_AZURE_STATE };
    process.env.CDKTF_OUTDIR = outdir;
    delete process.env.MLSTACK_TF_GCS_BUCKET;
    delete process.env.MLSTACK_TF_AZURE_STATE;
    try {
      jest.isolateModules(() => {
        require('../../../infra/cdktf/main');
      });
    } finally {
      if (saved.out === undefined) delete process.env.CDKTF_OUTDIR;
      else process.env.CDKTF_OUTDIR = saved.out;
      if (saved.gcs !== undefined) process.env.MLSTACK_TF_GCS_BUCKET = saved.gcs;
      if (saved.az !== undefined) process.env.MLSTACK_TF_AZURE_STATE = saved.az;
    }
    expect(fs.readdirSync(path.join(outdir, 'stacks')).sort()).toEqual([...EIGHT].sort());
    for (const stack of EIGHT) {
      const tf = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8'));
      expect(tf.terraform.backend).toEqual({ local: { path: `terraform.${stack}.tfstate` } });
      expect(Object.keys(tf.resource)).toContain(stack.startsWith('gcp-') ? 'google_artifact_registry_repository' : 'azurerm_container_registry');
      expect(Object.keys(tf.resource).length).toBeGreaterThan(8);
    }
  });

  test('the app as cdktf runs it exits 1 with the naming problem (found when the config loads) and writes no stacks', () => {
    const dir = copyConfig();
    editJson(path.join(dir, 'environments', 'qa.json'), (doc) => {
      doc.azure.storage.bucket = 'ml_stack_qa';
    });
    const outdir = makeTempDir('mlstack-cdktf-bad-');
    const run = spawnSync(process.execPath, ['bin/run-ts.js', 'infra/cdktf/main.ts'], {
      env: { ...process.env, MLSTACK_CONFIG_DIR: dir, CDKTF_OUTDIR: outdir },
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/environments\/qa\.json: azure\.storage\.bucket: "ml_stack_qa" is not a valid Azure storage account name: 3-24 lowercase letters and digits/);
    expect(fs.existsSync(path.join(outdir, 'stacks'))).toBe(false);
  });

  test('SYNTH_HCL_OUTPUT=true (what `cdktf synth --hcl` sets) writes formatted HCL with bare references', () => {
    const outdir = makeTempDir('mlstack-cdktf-hcl-');
    const run = spawnSync(process.execPath, ['bin/run-ts.js', 'infra/cdktf/main.ts'], {
      env: { ...process.env, SYNTH_HCL_OUTPUT: 'true', CDKTF_OUTDIR: outdir },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    for (const stack of EIGHT) {
      const hcl = fs.readFileSync(path.join(outdir, 'stacks', stack, 'cdk.tf'), 'utf8');
      expect(hcl.startsWith('terraform {')).toBe(true);
      expect(hcl).not.toMatch(/^\s+[\w-]+\s*=\s*"\$\{[^"]*\}"$/m);
      expect(hcl).toMatch(/^\s+resource_group_name\s+=\s+azurerm_resource_group\.group\.name$|^\s+bucket\s+=\s+google_storage_bucket\.\w+\.name$/m);
    }
  });

  test('MLSTACK_CONFIG_DIR chooses the config folder', () => {
    const saved = process.env.MLSTACK_CONFIG_DIR;
    process.env.MLSTACK_CONFIG_DIR = makeTempDir('mlstack-empty-config-');
    try {
      expect(() => buildCdktfApp({ clouds: ['gcp'] })).toThrow(/pipeline\.json: \(root\): file not found/);
    } finally {
      if (saved === undefined) delete process.env.MLSTACK_CONFIG_DIR;
      else process.env.MLSTACK_CONFIG_DIR = saved;
    }
  });
});

describe('state backends', () => {
  test('local by default, one state file per stack', () => {
    expect(chooseBackend('gcp-dev', {})).toEqual({ kind: 'local', path: 'terraform.gcp-dev.tfstate' });
  });

  test('GCS for gcp stacks when MLSTACK_TF_GCS_BUCKET is set; azure stacks stay local', () => {
    const env = { MLSTACK_TF_GCS_BUCKET: 'acme-tfstate' };
    expect(chooseBackend('gcp-prod', env)).toEqual({ kind: 'gcs', bucket: 'acme-tfstate', prefix: 'mlstack/gcp-prod' });
    expect(chooseBackend('azure-prod', env).kind).toBe('local');
    const config = loadProjectConfig('config');
    const stack = new GcpMlStack(Testing.app(), 'gcp-prod', { pipeline: config.pipeline, parser: config.parser, env: config.environments.prod, backendEnv: env });
    expect(JSON.parse(Testing.synth(stack)).terraform.backend).toEqual({ gcs: { bucket: 'acme-tfstate', prefix: 'mlstack/gcp-prod' } });
  });

  test('azurerm for azure stacks when MLSTACK_TF_AZURE_STATE is set, and a clear error when it is malformed', () => {
    expect(chooseBackend('azure-qa', { MLSTACK_TF_AZURE_STATE: 'tf-rg/acmetf/state' })).toEqual({
      kind: 'azurerm',
      resourceGroupName: 'tf-rg',
      storageAccountName: 'acmetf',
      containerName: 'state',
      key: 'mlstack/azure-qa.tfstate',
    });
    expect(() => chooseBackend('azure-qa', { MLSTACK_TF_AZURE_STATE: 'acmetf' })).toThrow(
      /MLSTACK_TF_AZURE_STATE="acmetf": expected <resource group>\/<storage account>\/<container>/,
    );
  });
});

describe('ingestion schedule conversion', () => {
  test('AWS cron becomes a 5-field unix cron', () => {
    expect(toUnixCron('cron(0 2 * * ? *)')).toBe('0 2 * * *');
    expect(toUnixCron('cron(30 4 ? * 2-6 *)')).toBe('30 4 * * 1-5');
    expect(toUnixCron('cron(0 6 ? * MON *)')).toBe('0 6 * * MON');
    expect(toUnixCron('15 3 * * *')).toBe('15 3 * * *');
  });

  test('expressions without a unix equivalent are refused with the reason', () => {
    expect(() => toUnixCron('cron(0 2 * * ? 2027)')).toThrow(ScheduleError);
    expect(() => toUnixCron('cron(0 2 L * ? *)')).toThrow(/L, W and #/);
    expect(() => toUnixCron('cron(0 2 * *)')).toThrow(/6 fields, found 4/);
    expect(() => toUnixCron('rate(1 day)')).toThrow(/expected "cron\(min hour day month weekday year\)"/);
  });
});
