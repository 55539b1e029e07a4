/** A gradient_boosting package is tamper-evident like every package, and its trees.json is checked at load. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { ProjectConfig } from '../../config/schema';
import { writeManifest } from '../../runtime/model/manifest';
import { PACKAGE_FILES, readModelPackage } from '../../runtime/model/package';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { train } from '../../runtime/training';
import { churnCsv } from '../training/synthetic';
import { makeTempDir } from '../helpers/tmp';

const base = loadProjectConfig(path.resolve(__dirname, '..', '..', 'config'));

describe('a gradient_boosting package', () => {
  let dir: string;
  let prefix: string;
  beforeAll(async () => {
    const project = JSON.parse(JSON.stringify(base)) as ProjectConfig;
    project.pipeline.model_type = 'gradient_boosting';
    project.pipeline.training_params.gradient_boosting = { ...project.pipeline.training_params.gradient_boosting, num_trees: 5 };
    const root = makeTempDir('mlstack-trees-pkg-');
    const store = new LocalObjectStore(root);
    await store.put('d.csv', churnCsv(600, 21));
    const result = await train({ project, store, dataKeys: ['d.csv'], runId: 't', modelsPrefix: 'm/', checkpointsPrefix: 'c/', progress: 'none' });
    dir = path.join(root, result.packagePrefix);
    prefix = result.packagePrefix;
  }, 60_000);

  function copy(): { folder: string; store: LocalObjectStore } {
    const folder = makeTempDir('mlstack-trees-copy-');
    fs.cpSync(dir, folder, { recursive: true });
    return { folder, store: new LocalObjectStore(folder) };
  }

  function edit(folder: string, change: (doc: any) => void): void {
    const file = path.join(folder, PACKAGE_FILES.trees);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    change(doc);
    fs.writeFileSync(file, JSON.stringify(doc));
  }

  it('holds trees.json in the manifest and refuses an edited one', async () => {
    expect(prefix).toBeTruthy();
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files)).toContain(PACKAGE_FILES.trees);
    const { folder, store } = copy();
    edit(folder, (doc) => (doc.trees[0].leaf_values[0] += 1));
    await expect(readModelPackage(store, '')).rejects.toThrow(/model\/trees\.json does not match manifest\.json/);
  });

  it('refuses a trees.json that does not fit metadata or itself, naming the field (manifest rewritten)', async () => {
    const cases: [(doc: any) => void, RegExp][] = [
      [(doc) => (doc.outputs = 3), /model\/trees\.json: outputs: 3 sigmoid outputs do not match metadata's 1 sigmoid/],
      [(doc) => (doc.trees[0].feature[0] = 99), /trees\.0\.feature\.0: column 99 does not exist/],
      [(doc) => doc.trees[0].leaf_values.pop(), /trees\.0\.leaf_values: \d+ splits make \d+ leaves/],
      [(doc) => (doc.columns[0].at = 1000), /columns\.0: reads past the \d+ preprocessed columns/],
      [(doc) => (doc.trees[0].left[0] = 0), /trees\.0\.left\/right\.0: child 0 is not a later node or a leaf/],
    ];
    for (const [change, message] of cases) {
      const { folder, store } = copy();
      edit(folder, change);
      await writeManifest(store, '');
      await expect(readModelPackage(store, '')).rejects.toThrow(message);
    }
  });
});
