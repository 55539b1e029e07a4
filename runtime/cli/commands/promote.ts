import type { Command } from 'commander';
import type { PromotionResult } from '../../promotion/promote';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { PROJECT_OPTION } from './options';

interface PromoteCliOptions {
  model: string;
  to: string;
  imageTag?: string;
  force?: boolean;
  reason?: string;
  rollback?: boolean;
  dryRun?: boolean;
  workdir: string;
  registryUri?: string;
  repoDir?: string;
  configDir: string;
  remote: string;
  base: string;
  repo?: string;
  project?: string;
}

export function formatPromotion(result: PromotionResult): string {
  const lines = [result.diff.trimEnd(), ''];
  if (result.overridden.length) lines.push(`FORCED past ${result.overridden.length} failed gate(s); the reason is in the commit.`);
  if (!result.dryRun) lines.push(`branch ${result.branch}, commit ${result.commit}`);
  lines.push(...result.notes);
  return lines.join('\n') + '\n';
}

export function registerPromoteCommand(program: Command): void {
  program
    .command('promote')
    .description('pin a registered model version in an environment by opening a GitOps pull request')
    .requiredOption('--model <version>', 'registry version to promote (v7), or "latest"')
    .requiredOption('--to <env>', 'target environment (dev, qa, staging, prod)')
    .option('--image-tag <tag>', 'also set image_tag in every cloud section of the environment')
    .option('--force', 'promote even though gates fail (needs --reason)')
    .option('--reason <text>', 'why the gates are overridden; recorded in the commit')
    .option('--rollback', 'go back to a version this environment pinned before (waives the order gate)')
    .option('--dry-run', 'print the diff only; create no branch, commit, push or pull request')
    .option('--workdir <dir>', 'local working folder holding registry/', DEFAULT_WORKDIR)
    .option('--registry-uri <uri>', 'registry root (file://, s3://, gs://, az://); overrides --workdir')
    .option(PROJECT_OPTION[0], "project whose registry holds the version (default: the base branch's pipeline.json project, which must own it)")
    .option('--repo-dir <dir>', 'folder inside the git repository (default: current folder)')
    .option('--config-dir <dir>', 'configuration folder relative to --repo-dir', 'config')
    .option('--remote <name>', 'git remote to fetch the base from and push the branch to', 'origin')
    .option('--base <branch>', 'branch the pull request targets', 'main')
    .option('--repo <owner/name>', 'GitHub repository (default: parsed from the remote URL)')
    .action(async (opts: PromoteCliOptions) => {
      const { assertEnvironmentName } = require('../../../config/load') as typeof import('../../../config/load');
      const { openRegistryLocation } = require('../../promotion/model-source') as typeof import('../../promotion/model-source');
      const { promote } = require('../../promotion/promote') as typeof import('../../promotion/promote');
      const target = assertEnvironmentName(opts.to);
      const { parseProjectName } = require('../../context') as typeof import('../../context');
      const location = await openRegistryLocation({ workdir: opts.workdir, registryUri: opts.registryUri });
      const registry = opts.project === undefined ? location : { ...location, project: parseProjectName(opts.project) };
      // A refusing gate is a PromotionRefusedError: exit 2 (the catalogue's PROMOTION_REFUSED) with its message.
      const result = await promote({
        version: opts.model,
        target,
        registry,
        repoDir: opts.repoDir,
        configDir: opts.configDir,
        imageTag: opts.imageTag,
        force: opts.force,
        reason: opts.reason,
        rollback: opts.rollback,
        dryRun: opts.dryRun,
        remote: opts.remote,
        base: opts.base,
        repo: opts.repo,
      });
      process.stdout.write(formatPromotion(result));
    });
}
