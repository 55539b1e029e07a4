/**
 * `<training image> register --model <dir> --evaluation <dir> --output <dir>`: the registration step of
 * the AWS training state machine (a SageMaker processing job, started with sageMakerRegisterLaunch's
 * environment). The model folder holds the training job's model.tar.gz (or an unpacked package), the
 * evaluation folder the evaluate step's evaluation.json. It registers the next version in the store at
 * ENV.bucket (package files and model.tar.gz under `<models><project>/<version>/`, evaluation.json beside
 * them), creates the SageMaker model package (ModelDataUrl = that model.tar.gz, Image = ENV.servingImage,
 * model-quality statistics = that evaluation.json), and writes `<output>/registration.json`.
 * Exit codes: 0 registered (or already registered), 2 usage or configuration error, 1 anything else.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_DIR, loadProjectConfig } from '../../config/load';
import { CLOUDS, ENVIRONMENTS, type EnvironmentName } from '../../config/schema';
import { reportError, UsageError } from '../common/errors';
import { createLogger } from '../common/logger';
import { ENV } from '../contract/env';
import { EVALUATION_FILE, storagePaths, type StoreCloud } from '../contract/layout';
import { PACKAGE_FILES, type ModelMetadata } from '../model/package';
import { LocalObjectStore } from '../storage/local-store';
import { getJson } from '../storage/object-store';
import { openStoreRoot } from '../storage/open';
import { MissingInputError, packageDirOf } from './model-dir';
import { registerPackage } from './register';

/** What `<output>/registration.json` holds. */
export interface RegistrationDocument {
  version: string;
  artifact_uri: string;
  model_package_arn: string | null;
  /** True when a version already held this package (a retried step): no new version was made. */
  already_registered: boolean;
}

export const REGISTRATION_FILE = 'registration.json';

const USAGE = 'register --model <dir with the model archive or package> --evaluation <dir with evaluation.json> --output <dir>';

function flagsOf(argv: string[]): { model: string; evaluation: string; output: string } {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: { model: { type: 'string' }, evaluation: { type: 'string' }, output: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}: ${USAGE}`);
  }
  const missing = (['model', 'evaluation', 'output'] as const).filter((k) => !values[k]);
  if (missing.length) throw new UsageError(`register needs ${missing.map((m) => `--${m}`).join(', ')}: ${USAGE}`);
  return values as { model: string; evaluation: string; output: string };
}

/** A variable the stack must set; a UsageError naming it when it is missing or not one of `accepted`. */
function required(env: NodeJS.ProcessEnv, name: string, accepted?: readonly string[]): string {
  const value = env[name];
  if (!value) throw new UsageError(`${name} is not set: the register step needs it (the stack sets it)`);
  if (accepted && !accepted.includes(value)) throw new UsageError(`${name}=${value} is not one of ${accepted.join(', ')}`);
  return value;
}

/** The package's project must be the config's and the stack's: a package of another project never enters this registry. */
export function checkProject(packageProject: string, configProject: string, stackProject: string | undefined, where: string): void {
  if (packageProject !== configProject) {
    throw new UsageError(`the model package at ${where} belongs to project "${packageProject}", but the configuration's pipeline.json is project "${configProject}"`);
  }
  if (stackProject !== undefined && stackProject !== configProject) {
    throw new UsageError(`${ENV.project}=${stackProject}, but the configuration's pipeline.json is project "${configProject}": the stack and the image's config disagree`);
  }
}

export async function runRegisterCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const logger = createLogger('register', 'container', env);
  try {
    const flags = flagsOf(argv);
    const envName = required(env, ENV.env, ENVIRONMENTS) as EnvironmentName;
    const cloud = required(env, ENV.cloud, ['local', ...CLOUDS]) as StoreCloud;
    const bucket = required(env, ENV.bucket);
    const project = loadProjectConfig(path.resolve(env[ENV.configDir] ?? DEFAULT_CONFIG_DIR));

    const packageDir = await packageDirOf(flags.model);
    const source = { store: new LocalObjectStore(packageDir), prefix: '' };
    const metadata = await getJson<ModelMetadata>(source.store, PACKAGE_FILES.metadata);
    checkProject(metadata.project, project.pipeline.project, env[ENV.project], flags.model);
    const evaluationFile = path.join(flags.evaluation, EVALUATION_FILE);
    if (!fs.existsSync(evaluationFile)) throw new MissingInputError(`--evaluation ${flags.evaluation} holds no ${EVALUATION_FILE}: pass the evaluate step's output folder`);

    const store = await openStoreRoot(bucket);
    const ctx = { project, envName, cloud, store, paths: storagePaths(project.environments[envName], cloud, project.pipeline.project) };
    const { version, created } = await registerPackage(ctx, { source, evaluation: fs.readFileSync(evaluationFile), servingImage: env[ENV.servingImage] });
    const doc: RegistrationDocument = {
      version: version.version,
      artifact_uri: version.artifact_uri as string,
      model_package_arn: version.sagemaker_model_package_arn ?? null,
      already_registered: !created,
    };
    fs.mkdirSync(flags.output, { recursive: true });
    fs.writeFileSync(path.join(flags.output, REGISTRATION_FILE), `${JSON.stringify(doc, null, 2)}\n`);
    logger.info({ ...doc, run: version.lineage.run_id }, created ? `registered ${version.version}` : `${version.version} already holds run ${version.lineage.run_id}`);
    process.stdout.write(`mlstack-registration ${JSON.stringify(doc)}\n`);
    return 0;
  } catch (err) {
    logger.error({ err }, `registration failed: ${(err as Error).message}`);
    return reportError('register', err);
  }
}
