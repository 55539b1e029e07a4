/**
 * The pure half of a promotion: from what the base branch and the registry hold, decide whether the
 * model may go to the target (the gates) and what the change is (the edits, the new file text, its
 * diff and the commit message). No git, no network, no files: applyPromotion does those.
 */
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../../config/load';
import { CLOUDS, environmentSchema, type EnvironmentName, type PipelineConfig } from '../../config/schema';
import { unifiedDiff } from './diff';
import { checkMetricGates, checkOrderGate, describeMetricFailure, type GateFailure, type MetricGateResult } from './gates';
import { replaceJsonValues, type JsonValueEdit } from './json-edit';
import type { ModelVersionRecord } from './model-source';
import { MlstackError } from '../common/errors';

/** A gate or precondition refused the promotion; the message names what and how to proceed. */
export class PromotionRefusedError extends MlstackError {
  constructor(
    message: string,
    readonly failures: GateFailure[] = [],
  ) {
    super('PROMOTION_REFUSED', message);
    this.name = 'PromotionRefusedError';
  }
}

export function promotionBranch(target: EnvironmentName, version: string): string {
  return `promote/${target}/${version}`;
}

/** What a promotion is decided from: plain values, read from the base branch and the registry beforehand. */
export interface PromotionInput {
  /** The version asked for. */
  version: string;
  target: EnvironmentName;
  /** The registry's record of `version`. */
  model: ModelVersionRecord;
  /** config/pipeline.json on the base branch: the project and its promotion gates. */
  project: string;
  gates: PipelineConfig['promotion_gates'];
  /** model_version of every environment on the base branch. */
  pinned: Record<EnvironmentName, string | null>;
  /** The target's environment file, relative to the repository root, and its text on the base branch. */
  file: string;
  targetText: string;
  /** The base branch as messages name it, e.g. "origin/main". */
  baseRef: string;
  /** New image_tag for every cloud section; unchanged when omitted. */
  imageTag?: string;
  /** Override failed gates; needs `reason`. */
  force?: boolean;
  reason?: string;
  /** Waive the order gate for a version the target pinned before. */
  rollback?: boolean;
  /** With rollback: whether the target's file pinned `model.version` in an earlier commit of the base branch. */
  pinnedBefore?: boolean;
}

/** What the promotion changes, and why it may. */
export interface PromotionPlan {
  target: EnvironmentName;
  branch: string;
  file: string;
  model: ModelVersionRecord;
  previousVersion: string | null;
  metricGates: MetricGateResult[];
  /** Gate failures that --force overrode (empty when every gate passed). */
  overridden: GateFailure[];
  edits: JsonValueEdit[];
  /** The target's file after the edits. */
  newText: string;
  diff: string;
  message: string;
  pullRequestBody: string;
}

const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** --force must say why: the reason is recorded in the commit. */
export function requireForceReason(force: boolean | undefined, reason: string | undefined): void {
  if (force && !reason?.trim()) {
    throw new PromotionRefusedError('--force needs --reason "<why>": the reason is recorded in the commit and the pull request');
  }
}

/** Parses `text` as JSON against `schema`, naming `file` and every key that does not fit. */
export function parseAt<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ file, keyPath: '(root)', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems: ConfigProblem[] = result.error.issues.map((issue) => ({
      file,
      keyPath: issue.path.length ? issue.path.map(String).join('.') : '(root)',
      message: issue.message,
    }));
    throw new ConfigError(problems);
  }
  return result.data;
}

/** Every gate's verdict; throws PromotionRefusedError when one fails without --force (or a rollback has nothing to go back to). */
function checkGates(input: PromotionInput): { metricGates: MetricGateResult[]; overridden: GateFailure[] } {
  const { model, target } = input;
  const metricGates = checkMetricGates(model.metrics, input.gates);
  const failures: GateFailure[] = metricGates.filter((g) => !g.passed).map((g) => ({ gate: 'metric' as const, message: describeMetricFailure(g, model.version) }));
  if (input.rollback) {
    if (!input.pinnedBefore) {
      throw new PromotionRefusedError(
        `--rollback: ${target} never pinned ${model.version} on ${input.baseRef} (git log -- ${input.file}); ` +
          'a rollback goes back to a version this environment ran before',
      );
    }
  } else {
    const order = checkOrderGate(target, model.version, input.pinned);
    if (order) failures.push(order);
  }
  if (failures.length && !input.force) {
    throw new PromotionRefusedError(
      `refusing to promote ${model.version} to ${target}:\n` +
        failures.map((f) => `  - ${f.message}`).join('\n') +
        '\n  (override only with --force --reason "<why>"; the reason is recorded in the commit)',
      failures,
    );
  }
  return { metricGates, overridden: input.force ? failures : [] };
}

/** The edits to the target's file: model_version, and image_tag in every cloud section when one is given. */
export function promotionEdits(version: string, imageTag: string | undefined): JsonValueEdit[] {
  const edits: JsonValueEdit[] = [{ path: ['model_version'], value: version }];
  if (imageTag === undefined) return edits;
  if (!IMAGE_TAG.test(imageTag)) {
    throw new PromotionRefusedError(`--image-tag "${imageTag}" is not a valid image tag (letters, digits, _ . -; at most 128)`);
  }
  for (const cloud of CLOUDS) edits.push({ path: [cloud, 'image_tag'], value: imageTag });
  return edits;
}

/**
 * Decides a promotion: the gates' results, the edits, the new file and its diff, the commit message
 * and the pull request body. Throws PromotionRefusedError when a gate or precondition refuses it,
 * ConfigError when the edited file would not be a valid environment file.
 */
export function planPromotion(input: PromotionInput): PromotionPlan {
  const { model, target } = input;
  requireForceReason(input.force, input.reason);
  if (model.project !== input.project) {
    throw new PromotionRefusedError(`registry record ${input.version} belongs to project "${model.project}", not "${input.project}" (config/pipeline.json)`);
  }
  const { metricGates, overridden } = checkGates(input);
  const edits = promotionEdits(model.version, input.imageTag);
  const newText = replaceJsonValues(input.targetText, edits, input.file);
  parseAt(environmentSchema, newText, input.file);
  const diff = unifiedDiff(input.targetText, newText, input.file);
  if (diff === '') {
    throw new PromotionRefusedError(`${target} already pins ${model.version}${input.imageTag ? ` with image tag ${input.imageTag}` : ''} on ${input.baseRef}: nothing to promote`);
  }
  const previous = input.pinned[target];
  const message = commitMessage({ model, target, previous, imageTag: input.imageTag, metricGates, overridden, reason: input.reason?.trim(), rollback: input.rollback === true });
  return {
    target,
    branch: promotionBranch(target, model.version),
    file: input.file,
    model,
    previousVersion: previous,
    metricGates,
    overridden,
    edits,
    newText,
    diff,
    message,
    pullRequestBody: pullRequestBody(message, diff, target, previous),
  };
}

function lineageLines(model: ModelVersionRecord): string[] {
  const l = model.lineage;
  const value = (v: string | null | undefined) => (v === undefined || v === null || v === '' ? '(not recorded)' : v);
  return [
    `  data hash:    ${value(l.data_hash)}`,
    `  config hash:  ${value(l.config_hash)}`,
    `  code version: ${value(l.code_version)}`,
    `  run id:       ${value(l.run_id)}`,
    `  parent run:   ${value(l.parent_run)}`,
    `  data:         ${value(l.data_uri)}`,
  ];
}

function metricLines(model: ModelVersionRecord, metricGates: MetricGateResult[]): string[] {
  const gateFor = new Map(metricGates.map((g) => [g.metric, g]));
  const metricNames = [...new Set([...Object.keys(model.metrics), ...gateFor.keys()])].sort();
  const lines = metricNames.map((name) => {
    const gate = gateFor.get(name);
    const value = model.metrics[name];
    const gateText = gate ? ` (gate ${gate.comparison} ${gate.threshold}: ${gate.passed ? 'passed' : 'FAILED'})` : '';
    return `  ${name}: ${value === undefined ? '(missing)' : value}${gateText}`;
  });
  return lines.length ? lines : ['  (none recorded)'];
}

function commitMessage(input: {
  model: ModelVersionRecord;
  target: EnvironmentName;
  previous: string | null;
  imageTag: string | undefined;
  metricGates: MetricGateResult[];
  overridden: GateFailure[];
  reason: string | undefined;
  rollback: boolean;
}): string {
  const { model, target } = input;
  const lines = [
    `${input.rollback ? 'Roll back' : 'Promote'} ${model.project} model ${model.version} to ${target}`,
    '',
    `Pins model_version ${model.version} in config/environments/${target}.json (was ${input.previous ?? 'none'}).`,
    input.imageTag ? `Sets image_tag to ${input.imageTag} for ${CLOUDS.join(', ')}.` : 'Leaves image_tag unchanged.',
    '',
    'Model:',
    `  version:      ${model.version}`,
    `  created at:   ${model.created_at ?? '(not recorded)'}`,
    `  package:      ${model.package_uri ?? '(not recorded)'}`,
    '',
    'Lineage:',
    ...lineageLines(model),
    '',
    'Metrics:',
    ...metricLines(model, input.metricGates),
    '',
  ];
  if (input.overridden.length) {
    lines.push('Gates: FORCED past these failures:', ...input.overridden.map((f) => `  - ${f.message}`), `Force reason: ${input.reason}`, '');
  } else {
    lines.push(input.rollback ? 'Gates: metric gates passed; order gate waived (rollback to a version pinned here before).' : 'Gates: all passed.', '');
  }
  lines.push(`Promoted-Model: ${model.version}`, `Promoted-Environment: ${target}`);
  if (input.overridden.length) lines.push(`Promotion-Forced: ${input.reason}`);
  if (input.rollback) lines.push('Promotion-Rollback: true');
  return lines.join('\n') + '\n';
}

function pullRequestBody(message: string, diff: string, target: EnvironmentName, previous: string | null): string {
  const [, ...body] = message.split('\n');
  const rollback = previous
    ? `To roll back after merging: \`npx mlstack promote --model ${previous} --to ${target} --rollback\`, or revert this pull request's merge commit.`
    : `To roll back after merging: revert this pull request's merge commit.`;
  return ['```text', body.join('\n').trim(), '```', '', '```diff', diff.trimEnd(), '```', '', rollback, ''].join('\n');
}
