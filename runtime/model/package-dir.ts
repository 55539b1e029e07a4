import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_FILES } from './package';
import { InvalidInputError, NotFoundError } from '../common/errors';

/**
 * The folder holding metadata.json: the folder itself or the one package below it (Azure ML mounts
 * models as AZUREML_MODEL_DIR/<name>/<version>/..., SageMaker unpacks tarballs as they were packed).
 */
export function findPackageDir(root: string, depth = 3): string {
  if (fs.existsSync(path.join(root, PACKAGE_FILES.metadata))) return root;
  const found: string[] = [];
  const walk = (dir: string, left: number): void => {
    if (left === 0) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const child = path.join(dir, entry.name);
      if (fs.existsSync(path.join(child, PACKAGE_FILES.metadata))) found.push(child);
      else walk(child, left - 1);
    }
  };
  if (fs.statSync(root).isDirectory()) walk(root, depth);
  if (found.length === 1) return found[0];
  if (found.length === 0) throw new NotFoundError(`no model package in ${root}: no ${PACKAGE_FILES.metadata} there or up to ${depth} folders below`);
  throw new InvalidInputError(`several model packages under ${root} (${found.join(', ')}): point at one of them`);
}
