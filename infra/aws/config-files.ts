import * as path from 'node:path';
import type { EnvironmentName, ProjectConfig } from '../../config/schema';

/** A config file as errors show it: relative to the working directory when below it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}

/** environments/<env>.json of the project, as errors show it. */
export function environmentFile(project: Pick<ProjectConfig, 'dir'>, environment: EnvironmentName): string {
  return displayPath(path.join(project.dir, 'environments', `${environment}.json`));
}
