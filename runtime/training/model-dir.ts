/** The model folder a processing job is given: it holds model.tar.gz (SageMaker's training output) or an unpacked package. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MODEL_ARCHIVE } from '../contract/layout';
import { extractTarGz } from '../model/archive';
import { findPackageDir } from '../model/package-dir';
import { MlstackError } from '../common/errors';

/** The folder named by a command's option does not exist (a usage error: exit 2). */
export class MissingInputError extends MlstackError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'MissingInputError';
  }
}

/** The package folder: model.tar.gz unpacked into a temp folder, or the package found in `modelDir` itself. */
export async function packageDirOf(modelDir: string, flag = '--model'): Promise<string> {
  if (!fs.existsSync(modelDir)) throw new MissingInputError(`${flag} ${modelDir} does not exist: pass the folder holding ${MODEL_ARCHIVE} (or an unpacked model package)`);
  const tarball = path.join(modelDir, MODEL_ARCHIVE);
  let dir = modelDir;
  if (fs.existsSync(tarball)) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-model-'));
    await extractTarGz(tarball, dir);
  }
  return findPackageDir(dir);
}
