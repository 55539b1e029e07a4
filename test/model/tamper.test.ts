/**
 * Tamper-evident model packages (issue 20): a package trained here carries manifest.json, and every way of
 * changing it on disk afterwards is refused by name, at load (serve, batch, evaluate), at registration and,
 * for a registry version, against the manifest_sha256 its record keeps. A bad edit that also rewrites the
 * manifest is caught by the schemas (a folder) or by the record (a version).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { MlstackError } from '../../runtime/common/errors';
import { ENV } from '../../runtime/contract/env';
import { MODEL_ARCHIVE, projectLayout, layoutOf, versionPrefix } from '../../runtime/contract/layout';
import { extractTarGz } from '../../runtime/model/archive';
import { MANIFEST_FILE, PackageInvalidError, sha256Hex, writeManifest } from '../../runtime/model/manifest';
import { loadTfModel, readModelPackage, PACKAGE_FILES } from '../../runtime/model/package';
import { transformRows } from '../../runtime/model/preprocessing';
import { ModelRegistry, type ModelVersion } from '../../runtime/registry';
import { resolveModelSource } from '../../runtime/serving/entrypoint';
import { loadPredictor } from '../../runtime/serving/load';
import { readBaseline } from '../../runtime/monitoring/baseline';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { train } from '../../runtime/training';
import { runCli, startServeCli } from '../helpers/cli';
import { makeTempDir } from '../helpers/tmp';
import { churnCsv } from '../training/synthetic';
import * as tf from '../../runtime/model/tf';

const project = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));
const PROJECT = project.pipeline.project;
const LAYOUT = projectLayout(layoutOf(undefined), PROJECT);
const ROWS = [
  { id: 1, age: 30, spend: 20.5, tenure: 12, plan: 'basic', region: 'eu', tickets: 3, signup_time: '2024-01-01T00:00:00Z' },
  { id: 2, age: 61, spend: null, tenure: 90, plan: 'premium', region: 'apac', tickets: 0, signup_time: '2024-01-01T00:00:00Z' },
];

/** Where the trained package lies, untouched; every case works on a copy. */
let trainedDir: string;
let dataFile: string;

function copyOfPackage(): string {
  const dir = makeTempDir('mlstack-tamper-');
  fs.cpSync(trainedDir, dir, { recursive: true });
  return dir;
}

function editJsonFile(file: string, edit: (doc: any) => void): void {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(doc);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
}

function flipByte(file: string, at: number): void {
  const bytes = fs.readFileSync(file);
  bytes[at] ^= 0x01;
  fs.writeFileSync(file, bytes);
}

interface Tampering {
  what: string;
  apply(dir: string): void;
  /** The file the refusal must name, and how it describes it. */
  refusal: RegExp;
}

const WEIGHTS = PACKAGE_FILES.weights;
const mismatch = (file: string) => new RegExp(`: ${file.replace(/[./]/g, '\\$&')} does not match manifest\\.json \\(expected sha256 [0-9a-f]{64}, \\d+ bytes; found sha256 [0-9a-f]{64}, \\d+ bytes\\)`);

const TAMPERINGS: Tampering[] = [
  { what: 'truncated weights', apply: (dir) => fs.truncateSync(path.join(dir, WEIGHTS), 100), refusal: mismatch(WEIGHTS) },
  { what: 'one bit flipped in the weights', apply: (dir) => flipByte(path.join(dir, WEIGHTS), 17), refusal: mismatch(WEIGHTS) },
  { what: 'the task edited in metadata.json', apply: (dir) => editJsonFile(path.join(dir, 'metadata.json'), (m) => (m.task = 'regression')), refusal: mismatch('metadata.json') },
  {
    what: 'a mean edited in preprocessing.json',
    apply: (dir) => editJsonFile(path.join(dir, 'preprocessing.json'), (p) => (p.features.find((f: { kind: string }) => f.kind === 'numeric').mean += 10)),
    refusal: mismatch('preprocessing.json'),
  },
  { what: 'model.json edited', apply: (dir) => editJsonFile(path.join(dir, PACKAGE_FILES.modelJson), (m) => (m.generatedBy = 'someone else')), refusal: mismatch(PACKAGE_FILES.modelJson) },
  { what: 'the report edited', apply: (dir) => fs.appendFileSync(path.join(dir, 'report.html'), '<!-- x -->'), refusal: mismatch('report.html') },
  { what: 'the monitoring baseline edited', apply: (dir) => editJsonFile(path.join(dir, 'baseline.json'), (b) => (b.rows += 1)), refusal: mismatch('baseline.json') },
  { what: 'a file added', apply: (dir) => fs.writeFileSync(path.join(dir, 'model', 'extra.bin'), 'x'), refusal: /: model\/extra\.bin is not listed in manifest\.json: a file was added after training/ },
  { what: 'a file removed', apply: (dir) => fs.rmSync(path.join(dir, 'metrics.json')), refusal: /: metrics\.json is listed in manifest\.json \(sha256 [0-9a-f]{64}\) but missing/ },
  { what: 'the manifest removed', apply: (dir) => fs.rmSync(path.join(dir, MANIFEST_FILE)), refusal: /has no manifest\.json: .*Retrain it; or, only for a package you trust, set MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1/ },
  {
    what: 'a hash in the manifest edited',
    apply: (dir) => editJsonFile(path.join(dir, MANIFEST_FILE), (m) => (m.files['metadata.json'].sha256 = '0'.repeat(64))),
    refusal: mismatch('metadata.json'),
  },
];

async function registerFrom(dir: string, workdir: string): Promise<ModelVersion> {
  const lineage = { data_hash: 'd', config_hash: 'c', code_version: 't', run_id: 'run-tamper' };
  return new ModelRegistry(new LocalObjectStore(workdir), 'registry/', PROJECT).register({
    project: PROJECT,
    metrics: {},
    lineage,
    materialise: { source: { store: new LocalObjectStore(dir), prefix: '' }, modelsPrefix: LAYOUT.models },
  });
}

async function refusal(promise: Promise<unknown>): Promise<PackageInvalidError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PackageInvalidError);
  expect((err as MlstackError).code).toBe('PACKAGE_INVALID');
  expect((err as MlstackError).exitCode).toBe(1);
  return err as PackageInvalidError;
}

beforeAll(async () => {
  const root = makeTempDir('mlstack-tamper-train-');
  const store = new LocalObjectStore(root);
  await store.put('data/part-0.csv', churnCsv(500, 3));
  dataFile = path.join(root, 'data', 'part-0.csv');
  const result = await train({
    project,
    store,
    dataKeys: ['data/part-0.csv'],
    runId: 'run-tamper',
    modelsPrefix: 'models/',
    checkpointsPrefix: 'checkpoints/',
    progress: 'none',
    overrides: { epochs: 2, batch_size: 64, early_stopping_patience: 10 },
  });
  trainedDir = path.join(root, result.packagePrefix);
}, 120_000);

describe('a trained package', () => {
  it('carries manifest.json with the sha256 and size of every other file, the epoch log included', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(trainedDir, MANIFEST_FILE), 'utf8'));
    expect(manifest.format_version).toBe(1);
    expect(Object.keys(manifest.files).sort()).toEqual(['baseline.json', 'epochs.jsonl', 'metadata.json', 'metrics.json', 'model/model.json', 'model/weights.bin', 'preprocessing.json', 'report.html']);
    for (const [name, digest] of Object.entries<{ sha256: string; bytes: number }>(manifest.files)) {
      const bytes = fs.readFileSync(path.join(trainedDir, name));
      expect(digest).toEqual({ sha256: sha256Hex(bytes), bytes: bytes.byteLength });
    }
  });

  it('carries baseline.json: every feature profiled and the test-split score distribution', async () => {
    const baseline = await readBaseline(new LocalObjectStore(trainedDir), '');
    const meta = JSON.parse(fs.readFileSync(path.join(trainedDir, 'metadata.json'), 'utf8'));
    expect(Object.keys(baseline?.features ?? {}).sort()).toEqual([...meta.features].sort());
    expect(baseline?.prediction).toMatchObject({ kind: 'numeric' });
    expect(baseline?.prediction?.count).toBeGreaterThan(0);
  });

  it('loads, verified, and predicts what its own TF.js model predicts', async () => {
    const predictor = await loadPredictor(trainedDir);
    const pkg = await readModelPackage(new LocalObjectStore(trainedDir), '');
    const model = await loadTfModel(pkg);
    const expected = (model.predict(tf.tensor2d(transformRows(pkg.preprocessing, ROWS), [ROWS.length, pkg.preprocessing.outputDim])) as tf.Tensor).dataSync();
    const got = predictor.predict(ROWS).map((p) => (p.probabilities as Record<string, number>)[pkg.metadata.classes[1]]);
    got.forEach((p, i) => expect(p).toBeCloseTo(expected[i], 5));
  });
});

describe.each(TAMPERINGS)('a package with $what', ({ apply, refusal: named }) => {
  it('is refused at load, naming the file', async () => {
    const dir = copyOfPackage();
    apply(dir);
    const err = await refusal(loadPredictor(dir));
    expect(err.message).toMatch(named);
    expect(err.message).toContain(`model package ${new LocalObjectStore(dir).root}`);
  });

  it('is refused at registration, naming the file, and nothing is registered', async () => {
    const dir = copyOfPackage();
    apply(dir);
    const workdir = makeTempDir('mlstack-tamper-registry-');
    const err = await refusal(registerFrom(dir, workdir));
    expect(err.message).toMatch(named);
    expect(await new ModelRegistry(new LocalObjectStore(workdir), 'registry/', PROJECT).list()).toEqual([]);
    expect(fs.existsSync(path.join(workdir, 'registry'))).toBe(false);
  });
});

describe('edits that rewrite the manifest to match', () => {
  /** Edits metadata.json, then writes a manifest that matches the edit (what a careful forger would do). */
  async function forge(dir: string, edit: (metadata: any) => void): Promise<void> {
    editJsonFile(path.join(dir, 'metadata.json'), edit);
    await writeManifest(new LocalObjectStore(dir), '');
  }

  it.each([
    ['task: binary -> regression', (m: any) => (m.task = 'regression'), /metadata\.json: classes: a regression model has no classes, found \["no","yes"\]/],
    ['task: binary -> multiclass', (m: any) => (m.task = 'multiclass'), /metadata\.json: positive_class: a multiclass model has none, found \["yes"\]/],
    ['a third class', (m: any) => m.classes.push('maybe'), /metadata\.json: classes: a binary model has 2 classes \[negative, positive\], found \["no","yes","maybe"\]/],
    ['a feature dropped', (m: any) => m.features.pop(), /metadata\.json: features: .* are not the features preprocessing\.json transforms/],
    ['input_dim', (m: any) => (m.input_dim += 1), /metadata\.json: input_dim: is \d+, but preprocessing\.json produces \d+ columns/],
    ['a layer widened', (m: any) => (m.layers[0].units += 1), /metadata\.json: layers\.0: says \d+ relu, but model\/model\.json layer \S+ is \d+ relu/],
    ['an unknown task', (m: any) => (m.task = 'ranking'), /metadata\.json: task: /],
  ])('a folder package with %s is refused by the metadata schema, naming the file and field', async (_what, edit, named) => {
    const dir = copyOfPackage();
    await forge(dir, edit);
    expect((await refusal(loadPredictor(dir))).message).toMatch(named);
  });

  it('a folder package whose preprocessing and weights disagree with model.json is refused by name', async () => {
    const dir = copyOfPackage();
    editJsonFile(path.join(dir, 'preprocessing.json'), (p) => (p.features[0].std = -1));
    await writeManifest(new LocalObjectStore(dir), '');
    expect((await refusal(loadPredictor(dir))).message).toMatch(/preprocessing\.json: features\.0\.std: /);

    const truncated = copyOfPackage();
    fs.truncateSync(path.join(truncated, WEIGHTS), 400);
    await writeManifest(new LocalObjectStore(truncated), '');
    expect((await refusal(loadPredictor(truncated))).message).toMatch(/model\/weights\.bin: \(size\): holds 400 bytes, but model\/model\.json's weightsManifest describes \d+/);

    const reshaped = copyOfPackage();
    // The same number of weights, transposed: the size fits, the layer does not.
    editJsonFile(path.join(reshaped, PACKAGE_FILES.modelJson), (m) => m.weightsManifest[0].weights[0].shape.reverse());
    await writeManifest(new LocalObjectStore(reshaped), '');
    expect((await refusal(loadPredictor(reshaped))).message).toMatch(/model\/model\.json: modelTopology layers\.\d+ kernel shape: layer \S+ takes (\d+) inputs to (\d+) units, but its kernel is \[\2,\1\]/);
  });
});

describe('a registry version', () => {
  let workdir: string;
  let record: ModelVersion;
  const versionDir = () => path.join(workdir, versionPrefix(LAYOUT, record.version));

  beforeEach(async () => {
    workdir = makeTempDir('mlstack-tamper-registry-');
    record = await registerFrom(copyOfPackage(), workdir);
  });

  it("records its manifest's sha256, carries the manifest in model.tar.gz, and loads and predicts like the package it came from", async () => {
    expect(record.manifest_sha256).toBe(sha256Hex(fs.readFileSync(path.join(versionDir(), MANIFEST_FILE))));
    expect(record.manifest_sha256).toBe(sha256Hex(fs.readFileSync(path.join(trainedDir, MANIFEST_FILE))));
    const fromVersion = await loadPredictor(record.version, { workdir });
    const fromRun = await loadPredictor(trainedDir);
    expect(fromVersion.version).toBe(record.version);
    expect(fromVersion.predict(ROWS)).toEqual(fromRun.predict(ROWS));

    // SageMaker unpacks model.tar.gz into /opt/ml/model; the serving container verifies what it finds there.
    const unpacked = makeTempDir('mlstack-tamper-sm-');
    expect(await extractTarGz(path.join(versionDir(), MODEL_ARCHIVE), unpacked)).toContain(MANIFEST_FILE);
    const sageMaker = resolveModelSource({ [ENV.sageMakerModelDir]: unpacked, [ENV.modelVersion]: record.version });
    expect((await loadPredictor(sageMaker.source, { version: sageMaker.version })).predict(ROWS)).toEqual(fromRun.predict(ROWS));
    flipByte(path.join(unpacked, WEIGHTS), 5);
    expect((await refusal(loadPredictor(sageMaker.source))).message).toMatch(mismatch(WEIGHTS));
  });

  it('is refused at load when a file of its folder changes, naming the file', async () => {
    flipByte(path.join(versionDir(), WEIGHTS), 3);
    expect((await refusal(loadPredictor(record.version, { workdir }))).message).toMatch(mismatch(WEIGHTS));
  });

  it('is refused when its manifest was rewritten to match an edit: the record holds the original hash', async () => {
    editJsonFile(path.join(versionDir(), 'preprocessing.json'), (p) => (p.features[0].mean += 1));
    await writeManifest(new LocalObjectStore(versionDir()), '');
    const err = await refusal(loadPredictor(record.version, { workdir }));
    expect(err.message).toMatch(new RegExp(`manifest\\.json does not match registry version ${record.version} \\(expected sha256 ${record.manifest_sha256}, found [0-9a-f]{64}\\): the package was changed after registration`));
  });

  it('is refused when its manifest was removed', async () => {
    fs.rmSync(path.join(versionDir(), MANIFEST_FILE));
    expect((await refusal(loadPredictor(record.version, { workdir }))).message).toMatch(/manifest\.json is missing, but registry version v1 recorded one/);
  });

  it('registered before manifests is refused, and loads with a warning only with MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1', async () => {
    fs.rmSync(path.join(versionDir(), MANIFEST_FILE));
    editJsonFile(path.join(workdir, 'registry', PROJECT, 'versions', `${record.version}.json`), (r) => delete r.manifest_sha256);
    const err = await refusal(loadPredictor(record.version, { workdir }));
    expect(err.message).toMatch(/registry version v1 .* was registered before packages carried a manifest \(its record has no manifest_sha256\)\. Retrain it; or, only for a package you trust, set MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1/);

    const warnings: string[] = [];
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(((message: string) => warnings.push(message)) as never);
    process.env[ENV.allowUnverifiedPackages] = '1';
    try {
      expect((await loadPredictor(record.version, { workdir })).predict(ROWS)).toHaveLength(2);
      // A package is still checked for what it can be: the schemas hold without a manifest.
      editJsonFile(path.join(versionDir(), 'metadata.json'), (m) => (m.task = 'regression'));
      expect((await refusal(loadPredictor(record.version, { workdir }))).message).toMatch(/metadata\.json: classes: a regression model has no classes/);
    } finally {
      delete process.env[ENV.allowUnverifiedPackages];
      warn.mockRestore();
    }
    expect(warnings[0]).toMatch(/registered before packages carried a manifest.*loading it unverified because MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1/);
  });
});

describe('a package written before manifests', () => {
  it('is refused at registration; with MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1 registration adopts it, and the version then verifies without the variable', async () => {
    const legacy = copyOfPackage();
    fs.rmSync(path.join(legacy, MANIFEST_FILE));
    const workdir = makeTempDir('mlstack-tamper-registry-');
    expect((await refusal(registerFrom(legacy, workdir))).message).toMatch(/has no manifest\.json/);

    const warnings: unknown[][] = [];
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(((...args: unknown[]) => warnings.push(args)) as never);
    process.env[ENV.allowUnverifiedPackages] = '1';
    let record: ModelVersion;
    try {
      record = await registerFrom(legacy, workdir);
    } finally {
      delete process.env[ENV.allowUnverifiedPackages];
      warn.mockRestore();
    }
    expect(warnings).toEqual([[expect.stringMatching(/has no manifest\.json: registering it with a manifest of its files as they are now, because MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1/), 'MlstackUnverifiedPackage']]);
    const versionDir = path.join(workdir, versionPrefix(LAYOUT, record.version));
    expect(fs.readFileSync(path.join(versionDir, MANIFEST_FILE), 'utf8')).toBe(fs.readFileSync(path.join(trainedDir, MANIFEST_FILE), 'utf8'));
    expect(record.manifest_sha256).toBe(sha256Hex(fs.readFileSync(path.join(versionDir, MANIFEST_FILE))));
    const unpacked = makeTempDir('mlstack-tamper-sm-');
    expect(await extractTarGz(path.join(versionDir, MODEL_ARCHIVE), unpacked)).toContain(MANIFEST_FILE);
    expect((await loadPredictor(record.version, { workdir })).predict(ROWS)).toHaveLength(2);
  });
});

describe('the commands that load a package', () => {
  it('mlstack serve refuses a tampered package: exit 1, the file named, no URL printed', async () => {
    const dir = copyOfPackage();
    flipByte(path.join(dir, WEIGHTS), 9);
    const serve = startServeCli(['--model', dir, '--port', '0', '--host', '127.0.0.1', '--workers', '1']);
    serve.url.catch(() => undefined);
    let code: number;
    try {
      code = await serve.running;
    } finally {
      serve.restore();
    }
    expect(code).toBe(1);
    await expect(serve.url).rejects.toThrow(/cannot load model ".*": model package .* model\/weights\.bin does not match manifest\.json \(expected sha256 [0-9a-f]{64}/);
  });

  it('mlstack evaluate and mlstack batch refuse a tampered package: exit 1, the file named', async () => {
    const dir = copyOfPackage();
    editJsonFile(path.join(dir, 'preprocessing.json'), (p) => (p.features[0].mean += 1));
    const evaluated = await runCli(['evaluate', '--model', dir, '--data', dataFile]);
    expect(evaluated.code).toBe(1);
    expect(evaluated.stderr).toMatch(/^mlstack: model package .*: preprocessing\.json does not match manifest\.json \(expected sha256/m);
    const out = path.join(makeTempDir('mlstack-tamper-batch-'), 'out.csv');
    const batch = await runCli(['batch', '--model', dir, '--input', dataFile, '--output', out]);
    expect(batch.code).toBe(1);
    expect(batch.stderr).toMatch(/preprocessing\.json does not match manifest\.json/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
