import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { metricDirection, TUNABLE_METRICS, type TunableMetric } from '../../../runtime/contract/metrics';
import { runsPrefix } from '../../../runtime/contract/layout';
import { grantPassRoleToSageMaker, grantSageMakerSyncJob } from '../sagemaker-iam';
import {
  PROCESSED_RUN_FIELD,
  PROCESSED_RUN_INPUT,
  PROCESSED_RUN_PATH,
  pipelineStateMachine,
  sageMakerSyncState,
  stringGiven,
  uniqueJobName,
} from '../step-functions';
import { PropsValidator, checkJobNamePrefix } from '../validation';
import type { DataLake } from './data-lake';
import type { TrainingJob } from './training-job';

/** A continuous or integer range (`min`..`max`, optionally log-scaled), or a list of choices. */
export type SearchDimension =
  | { readonly min: number; readonly max: number; readonly log?: boolean; readonly integer?: boolean }
  | { readonly values: readonly (number | string | readonly number[])[] };

export interface HyperparameterTuningProps {
  /** Supplies the image, role, resources, VPC and static hyperparameters of each trial. */
  readonly trainingJob: TrainingJob;
  /** The data lake the study's results (state prefix) and the trials' models go to. */
  readonly dataLake: DataLake;
  /** Prefix of tuning job names (`<prefix>-<8 hex>`), at most 23 characters (SageMaker's limit is 32). */
  readonly jobNamePrefix: string;
  /** Search space (pipeline.json `tuning.search_space`). */
  readonly searchSpace: Record<string, SearchDimension>;
  /** Trials in the study (pipeline.json `tuning.trials`). */
  readonly trials: number;
  /** Trials running at once; SageMaker's account quota is the real bound. @default min(trials, 10) */
  readonly maxParallelTrials?: number;
  /** Validation metric to optimise (pipeline.json `tuning.metric`). @default 'auc' */
  readonly metric?: TunableMetric;
  /**
   * `random` samples the space; `successive_halving` maps to SageMaker's Hyperband
   * (successive halving with early stopping on intermediate metrics).
   * @default 'random'
   */
  readonly strategy?: 'random' | 'successive_halving';
  /**
   * Successive halving only: the epochs a trial runs before its first rung
   * (pipeline.json `tuning.min_epochs`) and at most (`training_params.epochs`).
   * @default - SageMaker's Hyperband defaults
   */
  readonly epochsPerTrial?: { readonly min: number; readonly max: number };
  /** Keep the state machine's log group on stack deletion. @default true */
  readonly retainOnDelete?: boolean;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

/** What HyperparameterTuning uses for each omitted prop; its validation checks the same values. */
export const HYPERPARAMETER_TUNING_DEFAULTS = {
  /** maxParallelTrials is min(trials, this). */
  maxParallelTrials: 10,
  metric: 'auc' as TunableMetric,
  strategy: 'random' as 'random' | 'successive_halving',
  retainOnDelete: true,
} as const;

/** SageMaker's limits on a tuning job. */
const SAGEMAKER_TUNING_LIMITS = {
  trials: 750,
  parallelTrials: 100,
  searchedHyperparameters: 30,
  categoricalValues: 30,
  /** Tuning job names are at most 32 characters; `-<8 hex>` takes the rest. */
  jobNamePrefixLength: 23,
} as const;

/** The longest a study's state machine may run: within Step Functions' one-year execution limit. */
const LONGEST_STUDY = Duration.days(364);

/** A SageMaker parameter range: `MinValue`/`MaxValue` for a range, `Values` for a choice. */
export interface ParameterRange {
  readonly Name: string;
  readonly MinValue?: string;
  readonly MaxValue?: string;
  readonly ScalingType?: 'Auto' | 'Logarithmic';
  readonly Values?: string[];
}

/** The HyperParameterTuningJobConfig sent to SageMaker (CreateHyperParameterTuningJob). */
export interface TuningJobConfig {
  readonly Strategy: 'Random' | 'Hyperband';
  readonly HyperParameterTuningJobObjective: { readonly Type: 'Minimize' | 'Maximize'; readonly MetricName: string };
  readonly ResourceLimits: { readonly MaxNumberOfTrainingJobs: number; readonly MaxParallelTrainingJobs: number };
  readonly ParameterRanges: {
    readonly ContinuousParameterRanges: ParameterRange[];
    readonly IntegerParameterRanges: ParameterRange[];
    readonly CategoricalParameterRanges: ParameterRange[];
  };
  readonly TrainingJobEarlyStoppingType: 'Off';
  readonly StrategyConfig?: { readonly HyperbandStrategyConfig: { readonly MinResource: number; readonly MaxResource: number } };
}

/** The search space as SageMaker's continuous, integer and categorical parameter ranges. */
function parseParameterRanges(searchSpace: Record<string, SearchDimension>): TuningJobConfig['ParameterRanges'] {
  const ranges = { ContinuousParameterRanges: [] as ParameterRange[], IntegerParameterRanges: [] as ParameterRange[], CategoricalParameterRanges: [] as ParameterRange[] };
  for (const [name, dim] of Object.entries(searchSpace)) {
    if ('values' in dim) {
      ranges.CategoricalParameterRanges.push({ Name: name, Values: dim.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))) });
    } else {
      const range: ParameterRange = { Name: name, MinValue: String(dim.min), MaxValue: String(dim.max), ScalingType: dim.log ? 'Logarithmic' : 'Auto' };
      (dim.integer ? ranges.IntegerParameterRanges : ranges.ContinuousParameterRanges).push(range);
    }
  }
  return ranges;
}

/**
 * Tuning at scale: a state machine running a SageMaker hyperparameter tuning
 * job whose trials are ordinary training jobs (same image, role, VPC, encryption
 * and Environment as TrainingJob) fanned out by SageMaker, so a study of hundreds
 * of trials is bounded by the account's SageMaker quota, not by one container.
 * Started with `{"processed_run": "<run id>"}`: every trial trains on that run.
 * Each trial receives `study_uri` and writes its result there (the study the
 * runtime keeps under the state prefix).
 */
export class HyperparameterTuning extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** The `HyperParameterTuningJobConfig` sent to SageMaker (exposed for tests and docs). */
  readonly tuningJobConfig: TuningJobConfig;

  constructor(scope: Construct, id: string, props: HyperparameterTuningProps) {
    super(scope, id);
    this.validate(props);
    this.tuningJobConfig = this.parseTuningJobConfig(props);
    this.stateMachine = this.createStateMachine(props);
    grantSageMakerSyncJob(this.stateMachine, this, {
      resource: 'hyper-parameter-tuning-job',
      actions: ['sagemaker:CreateHyperParameterTuningJob', 'sagemaker:DescribeHyperParameterTuningJob', 'sagemaker:StopHyperParameterTuningJob', 'sagemaker:ListTrainingJobsForHyperParameterTuningJob'],
      namePrefix: props.jobNamePrefix,
      ruleName: 'StepFunctionsGetEventsForSageMakerTuningJobsRule',
    });
    grantPassRoleToSageMaker(this.stateMachine, props.trainingJob.executionRole);
  }

  /** Lets the grantee start a study. */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private parseTuningJobConfig(props: HyperparameterTuningProps): TuningJobConfig {
    const metric = props.metric ?? HYPERPARAMETER_TUNING_DEFAULTS.metric;
    const hyperband = (props.strategy ?? HYPERPARAMETER_TUNING_DEFAULTS.strategy) === 'successive_halving';
    return {
      Strategy: hyperband ? 'Hyperband' : 'Random',
      HyperParameterTuningJobObjective: { Type: metricDirection(metric) === 'lower' ? 'Minimize' : 'Maximize', MetricName: `validation:${metric}` },
      ResourceLimits: { MaxNumberOfTrainingJobs: props.trials, MaxParallelTrainingJobs: this.parallelTrials(props) },
      ParameterRanges: parseParameterRanges(props.searchSpace),
      TrainingJobEarlyStoppingType: 'Off',
      ...(hyperband && props.epochsPerTrial
        ? { StrategyConfig: { HyperbandStrategyConfig: { MinResource: props.epochsPerTrial.min, MaxResource: props.epochsPerTrial.max } } }
        : {}),
    };
  }

  private parallelTrials(props: HyperparameterTuningProps): number {
    return props.maxParallelTrials ?? Math.min(props.trials, HYPERPARAMETER_TUNING_DEFAULTS.maxParallelTrials);
  }

  /** FindProcessedRun -> NameStudy -> StaticHyperParameters -> Tune; without a run the execution fails. */
  private createStateMachine(props: HyperparameterTuningProps): sfn.StateMachine {
    const nameStudy = new sfn.Pass(this, 'NameStudy', {
      parameters: { 'jobName.$': uniqueJobName(props.jobNamePrefix, 0), [PROCESSED_RUN_FIELD]: `$.${PROCESSED_RUN_INPUT}` },
    });
    const findRun = new sfn.Choice(this, 'FindProcessedRun')
      .when(stringGiven(`$.${PROCESSED_RUN_INPUT}`), nameStudy)
      .otherwise(
        new sfn.Fail(this, 'NoProcessedRun', {
          error: 'NoProcessedRun',
          cause: `Start a study with {"${PROCESSED_RUN_INPUT}": "<run id>"}: the processed run every trial trains on`,
        }),
      );
    const tune = this.tuneState(props);
    nameStudy.next(this.staticHyperParametersState(props)).next(tune);
    return pipelineStateMachine(this, {
      start: findRun,
      timeout: this.studyTimeout(props),
      retainOnDelete: props.retainOnDelete ?? HYPERPARAMETER_TUNING_DEFAULTS.retainOnDelete,
    });
  }

  /** The tuning job; every trial is the TrainingJob's job definition with the study's static hyperparameters. */
  private tuneState(props: HyperparameterTuningProps): sfn.CustomState {
    const { StaticHyperParameters: _statics, ...trial } = props.trainingJob.jobDefinition;
    return sageMakerSyncState(
      this,
      'Tune',
      'createHyperParameterTuningJob',
      {
        'HyperParameterTuningJobName.$': '$.jobName',
        HyperParameterTuningJobConfig: this.tuningJobConfig,
        // HyperParameterTrainingJobDefinition takes the same fields (Environment included) as CreateTrainingJob.
        TrainingJobDefinition: { ...trial, 'StaticHyperParameters.$': '$.staticHyperParameters' },
      },
      '$.tuning',
    );
  }

  /**
   * Every trial gets the training job's static hyperparameters (less the searched ones), study_uri and
   * models_uri, on top of the job name and the run.
   */
  private staticHyperParametersState(props: HyperparameterTuningProps): sfn.Pass {
    const statics = props.trainingJob.jobDefinition.StaticHyperParameters;
    return new sfn.Pass(this, 'StaticHyperParameters', {
      comment: 'Every trial gets study_uri (where it writes its result, one object per trial) and models_uri (where SageMaker puts its model)',
      parameters: {
        'jobName.$': '$.jobName',
        [PROCESSED_RUN_FIELD]: PROCESSED_RUN_PATH,
        staticHyperParameters: {
          // SageMaker rejects a hyperparameter that is both static and searched.
          ...Object.fromEntries(Object.entries(statics).filter(([k]) => !(k in props.searchSpace))),
          'study_uri.$': `States.Format('${props.dataLake.s3Uri('state', 'studies/')}{}/', $.jobName)`,
          // The trial records its model archive under <models_uri><trial job>/output/ (OutputDataConfig).
          models_uri: props.dataLake.objectUri(runsPrefix(props.dataLake.prefixes)),
        },
      },
    });
  }

  /** Enough for every wave of parallel trials to use its whole limit, within Step Functions' year. */
  private studyTimeout(props: HyperparameterTuningProps): Duration {
    const limits = props.trainingJob.jobDefinition.StoppingCondition;
    const waves = Math.ceil(props.trials / this.parallelTrials(props));
    const perTrial = limits.MaxWaitTimeInSeconds ?? limits.MaxRuntimeInSeconds;
    return Duration.seconds(Math.min(waves * perTrial, LONGEST_STUDY.toSeconds()));
  }

  private validate(props: HyperparameterTuningProps): void {
    const v = new PropsValidator(this, props.configFile);
    const limits = SAGEMAKER_TUNING_LIMITS;
    v.check(Number.isInteger(props.trials) && props.trials >= 1 && props.trials <= limits.trials, 'trials', 'tuning.trials', `SageMaker runs 1-${limits.trials} trials per tuning job, found ${props.trials}`);
    const parallel = props.maxParallelTrials;
    v.check(parallel === undefined || (Number.isInteger(parallel) && parallel >= 1 && parallel <= limits.parallelTrials), 'maxParallelTrials', 'maxParallelTrials', `must be 1-${limits.parallelTrials}, found ${parallel}`);
    const metric = props.metric ?? HYPERPARAMETER_TUNING_DEFAULTS.metric;
    v.check(TUNABLE_METRICS.includes(metric), 'metric', 'tuning.metric', `expected one of ${TUNABLE_METRICS.join(', ')}`);
    if (props.epochsPerTrial) {
      const { min, max } = props.epochsPerTrial;
      v.check(Number.isInteger(min) && min >= 1 && min <= max, 'epochsPerTrial', 'tuning.min_epochs', `must be a whole number from 1 to training_params.epochs (${max}), found ${min}`);
    }
    this.validateSearchSpace(v, props.searchSpace);
    checkJobNamePrefix(v, props.jobNamePrefix, limits.jobNamePrefixLength, 'tuning job names are at most 32 characters');
    v.throwIfInvalid();
  }

  private validateSearchSpace(v: PropsValidator, searchSpace: Record<string, SearchDimension>): void {
    const names = Object.keys(searchSpace);
    const { searchedHyperparameters: most, categoricalValues } = SAGEMAKER_TUNING_LIMITS;
    v.check(names.length >= 1, 'searchSpace', 'tuning.search_space', 'needs at least one hyperparameter to search');
    v.check(names.length <= most, 'searchSpace', 'tuning.search_space', `SageMaker searches at most ${most} hyperparameters, found ${names.length}`);
    for (const [name, dim] of Object.entries(searchSpace)) {
      if ('values' in dim) {
        const count = dim.values.length;
        v.check(count >= 1 && count <= categoricalValues, 'searchSpace', `tuning.search_space.${name}.values`, `SageMaker accepts 1-${categoricalValues} categorical values, found ${count}`);
      } else {
        v.check(dim.min < dim.max, 'searchSpace', `tuning.search_space.${name}`, `min (${dim.min}) must be < max (${dim.max}) for a SageMaker range`);
        v.check(!dim.log || dim.min > 0, 'searchSpace', `tuning.search_space.${name}`, 'a log-scale range needs min > 0');
      }
    }
  }
}
