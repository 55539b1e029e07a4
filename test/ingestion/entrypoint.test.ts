/**
 * The ingestion container entrypoint as the stacks start it: argv, the variables a cloud job must have,
 * and the failures that must stop a deployed job before it fetches or writes anything.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { loadProjectConfig } from '../../config/load';
import { ENV, SECRET_PLACEHOLDER_PREFIX } from '../../runtime/contract/env';
import { processedRunPrefix, storagePaths, SUCCESS_MARKER } from '../../runtime/contract/layout';
import { main, USAGE } from '../../runtime/ingestion/entrypoint';
import { resolveAuthHeader, SecretPlaceholderError } from '../../runtime/ingestion/rest-source';
import { startSampleApi } from '../../runtime/ingestion/sample-api';
import { testProject } from '../helpers/ingest-fixtures';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
}

async function run(env: NodeJS.ProcessEnv, argv: string[] = ['ingest']): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await main({ [ENV.logLevel]: 'silent', ...env }, out.stream, err.stream, argv);
  return { code, stdout: out.text(), stderr: err.text() };
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

describe('arguments', () => {
  it('runs `ingest` or nothing; anything else exits 2 with the usage line', async () => {
    for (const argv of [['train'], ['ingest', 'now'], ['--source', 'x'], ['serve']]) {
      const { code, stdout, stderr } = await run({ [ENV.configDir]: copyConfig() }, argv);
      expect({ argv, code, stdout }).toEqual({ argv, code: 2, stdout: '' });
      expect(stderr).toContain(USAGE);
    }
    const help = await run({}, ['--help']);
    expect(help).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: '' });
  });

  it('runs the sample API locally with no argument and no source (npm start, mlstack ingest)', async () => {
    const workdir = makeTempDir();
    const configDir = copyConfig();
    const config = loadProjectConfig(configDir);
    const { code, stdout, stderr } = await run({ [ENV.configDir]: configDir, [ENV.workdir]: workdir, [ENV.runId]: 'local-run' }, []);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout).rows.fetched).toBeGreaterThan(0);
    // No variables: env dev, cloud local, pipeline.json's project.
    const success = `${processedRunPrefix(storagePaths(config.environments.dev, 'local', config.pipeline.project), 'local-run')}${SUCCESS_MARKER}`;
    expect(success).toBe(`data/processed/${config.pipeline.project}/local-run/${SUCCESS_MARKER}`);
    expect(filesUnder(workdir)).toContain(path.join(...success.split('/')));
  });
});

describe('a cloud job', () => {
  const cloudEnv = (bucket: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    [ENV.env]: 'qa',
    [ENV.cloud]: 'gcp',
    [ENV.bucket]: bucket,
    [ENV.project]: 'mlstack',
    [ENV.configDir]: copyConfig(),
    ...extra,
  });

  it('without a source exits 2 naming the config key and the variable, writing nothing', async () => {
    const bucket = makeTempDir();
    const { code, stderr } = await run(cloudEnv(bucket));
    expect(code).toBe(2);
    expect(stderr).toBe(
      `mlstack-ingest: ${ENV.source} is not set: set ingestion_source in config/environments/qa.json; the gcp stack passes it as ${ENV.source}\n`,
    );
    expect(filesUnder(bucket)).toEqual([]);
  });

  it('refuses the built-in sample API', async () => {
    const bucket = makeTempDir();
    for (const cloud of ['aws', 'gcp', 'azure']) {
      const { code, stderr } = await run(cloudEnv(bucket, { [ENV.cloud]: cloud, [ENV.source]: 'sample' }));
      expect(code).toBe(2);
      expect(stderr).toContain(`the built-in sample API is for local runs only (${ENV.cloud}=local), and ${ENV.cloud} is "${cloud}"`);
    }
    expect(filesUnder(bucket)).toEqual([]);
  });

  it('whose project differs from pipeline.json exits 2 naming both', async () => {
    const api = await startSampleApi({ rows: 10 });
    const bucket = makeTempDir();
    try {
      const env = cloudEnv(bucket, { [ENV.source]: api.url, [ENV.project]: 'churn' });
      const { code, stderr } = await run(env);
      expect(code).toBe(2);
      expect(stderr).toContain(`${ENV.project} is "churn" but ${path.join(env[ENV.configDir] as string, 'pipeline.json')} has project "mlstack"`);
      expect(api.requests).toBe(0);
      expect(filesUnder(bucket)).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('with inconsistent training trigger variables exits 2 before fetching', async () => {
    const api = await startSampleApi({ rows: 10 });
    const bucket = makeTempDir();
    try {
      const half = await run(cloudEnv(bucket, { [ENV.source]: api.url, [ENV.cloud]: 'azure', [ENV.azuremlCompute]: 'gpu-cluster' }));
      expect(half.code).toBe(2);
      expect(half.stderr).toContain(`${ENV.azuremlCompute} set but ${ENV.azuremlWorkspace}, ${ENV.trainingImage}, ${ENV.trainingIdentity} not`);
      const elsewhere = await run(cloudEnv(bucket, { [ENV.source]: api.url, [ENV.cloud]: 'aws', [ENV.trainingJob]: 'projects/p/locations/r/jobs/j' }));
      expect(elsewhere.code).toBe(2);
      expect(elsewhere.stderr).toContain(`the cloud-run-job training trigger runs on gcp, but ${ENV.cloud} is "aws"`);
      expect(api.requests).toBe(0);
      expect(filesUnder(bucket)).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('with a bucket that is not a store root exits 2 naming the variable', async () => {
    const { code, stderr } = await run(cloudEnv('s3://mlstack-dev-data/some/folder', { [ENV.source]: 'https://api.example.com/v1' }));
    expect(code).toBe(2);
    expect(stderr).toContain(`${ENV.bucket} is "s3://mlstack-dev-data/some/folder": "s3://mlstack-dev-data/some/folder" must be a store root`);
  });
});

describe('an API token still holding the stack secret placeholder', () => {
  it('fails before any request, naming the variable and where the real token goes', async () => {
    const api = await startSampleApi({ rows: 10, token: 'the-real-token' });
    const bucket = makeTempDir();
    const configDir = copyConfig();
    editJson(path.join(configDir, 'parser.json'), (doc) => {
      doc.ingestion.auth = { header: 'Authorization', scheme: 'Bearer', token_env: 'CUSTOMERS_API_TOKEN' };
    });
    try {
      const { code, stdout, stderr } = await run({
        [ENV.env]: 'dev',
        [ENV.cloud]: 'aws',
        [ENV.bucket]: bucket,
        [ENV.source]: api.url,
        [ENV.configDir]: configDir,
        CUSTOMERS_API_TOKEN: `${SECRET_PLACEHOLDER_PREFIX}-replace-with-the-api-token`,
      });
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
      expect(stderr).toContain('ingestion.auth.token_env names CUSTOMERS_API_TOKEN');
      expect(stderr).toContain("the environment's API secret still holds its placeholder");
      expect(stderr).toContain('AWS Secrets Manager, GCP Secret Manager or Azure Key Vault; see docs/ingestion.md');
      expect(api.requests).toBe(0);
      expect(filesUnder(bucket)).toEqual([]);

      // The same job with the real token in the secret reads the API.
      const ok = await run({ [ENV.env]: 'dev', [ENV.cloud]: 'aws', [ENV.bucket]: bucket, [ENV.source]: api.url, [ENV.configDir]: configDir, CUSTOMERS_API_TOKEN: 'the-real-token' });
      expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(ok.stdout).rows.fetched).toBe(10);
    } finally {
      await api.close();
    }
  });

  it('names the secret file too', () => {
    const { ingestion } = testProject().parser;
    const file = path.join(makeTempDir(), 'token');
    fs.writeFileSync(file, `${SECRET_PLACEHOLDER_PREFIX}\n`);
    const auth = { header: 'Authorization', scheme: 'Bearer', token_file: file };
    expect(() => resolveAuthHeader({ ...ingestion, auth })).toThrow(SecretPlaceholderError);
    expect(() => resolveAuthHeader({ ...ingestion, auth })).toThrow(`parser.json ingestion.auth.token_file ${file} holds the stack's placeholder`);
    fs.writeFileSync(file, 'settled-token\n');
    expect(resolveAuthHeader({ ...ingestion, auth })).toEqual(['Authorization', 'Bearer settled-token']);
  });
});
