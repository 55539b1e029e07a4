import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { grantPassRoleToSageMaker, grantSageMakerSyncJob, sageMakerSyncState } from '../sagemaker-iam';
import { PropsValidator } from '../validation';
import type { DataLake } from './data-lake';
import { PROCESSED_RUN_INPUT, PROCESSED_RUN_PATH, TRAINING_METRICS, type TrainingMetric, type TrainingJob } from './training-job';

/** A continuous or integer range (`min`..`max`, optionally log-scaled), or a list of choices. */
export type SearchDimension =
  | { readonly min: number; readonly max: number; readonly log?: boolean; readonly integer?: boolean }
  | { readonly values: readonly (number | string | readonly number[])[] };

export interface HyperparameterTuningProps {
  /** Supplies the image, role, resources, VPC and static hyperparameters of each trial. */
  readonly trainingJob: TrainingJob;
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
  readonly metric?: TrainingMetric;
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

const MINIMISED: readonly TrainingMetric[] = ['loss', 'rmse'];

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
  readonly tuningJobConfig: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: HyperparameterTuningProps) {
    super(scope, id);
    this.validate(props);
    const metric = props.metric ?? 'auc';
    const parallel = props.maxParallelTrials ?? Math.min(props.trials, 10);
    const training = props.trainingJob.jobDefinition as Record<string, any>;

    const ranges = { ContinuousParameterRanges: [] as unknown[], IntegerParameterRanges: [] as unknown[], CategoricalParameterRanges: [] as unknown[] };
    for (const [name, dim] of Object.entries(props.searchSpace)) {
      if ('values' in dim) {
        ranges.CategoricalParameterRanges.push({ Name: name, Values: dim.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))) });
      } else {
        const range = { Name: name, MinValue: String(dim.min), MaxValue: String(dim.max), ScalingType: dim.log ? 'Logarithmic' : 'Auto' };
        (dim.integer ? ranges.IntegerParameterRanges : ranges.ContinuousParameterRanges).push(range);
      }
    }
    this.tuningJobConfig = {
      Strategy: props.strategy === 'successive_halving' ? 'Hyperband' : 'Random',
      HyperParameterTuningJobObjective: { Type: MINIMISED.includes(metric) ? 'Minimize' : 'Maximize', MetricName: `validation:${metric}` },
      ResourceLimits: { MaxNumberOfTrainingJobs: props.trials, MaxParallelTrainingJobs: parallel },
      ParameterRanges: ranges,
      TrainingJobEarlyStoppingType: 'Off',
      ...(props.strategy === 'successive_halving' && props.epochsPerTrial
        ? { StrategyConfig: { HyperbandStrategyConfig: { MinResource: props.epochsPerTrial.min, MaxResource: props.epochsPerTrial.max } } }
        : {}),
    };

    const runField = `${PROCESSED_RUN_PATH.slice(2)}.$`;
    const nameStudy = new sfn.Pass(this, 'NameStudy', {
      parameters: {
        'jobName.$': `States.Format('${props.jobNamePrefix}-{}', States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0))`,
        [runField]: `$.${PROCESSED_RUN_INPUT}`,
      },
    });
    const runGiven = `$.${PROCESSED_RUN_INPUT}`;
    const findRun = new sfn.Choice(this, 'FindProcessedRun')
      .when(sfn.Condition.and(sfn.Condition.isPresent(runGiven), sfn.Condition.isString(runGiven)), nameStudy)
      .otherwise(
        new sfn.Fail(this, 'NoProcessedRun', {
          error: 'NoProcessedRun',
          cause: `Start a study with {"${PROCESSED_RUN_INPUT}": "<run id>"}: the processed run every trial trains on`,
        }),
      );
    const tune = sageMakerSyncState(
      this,
      'Tune',
      'createHyperParameterTuningJob',
      {
        'HyperParameterTuningJobName.$': '$.jobName',
        HyperParameterTuningJobConfig: this.tuningJobConfig,
        TrainingJobDefinition: {
          AlgorithmSpecification: training.AlgorithmSpecification,
          RoleArn: training.RoleArn,
          InputDataConfig: training.InputDataConfig,
          OutputDataConfig: training.OutputDataConfig,
          ResourceConfig: training.ResourceConfig,
          StoppingCondition: training.StoppingCondition,
          EnableManagedSpotTraining: training.EnableManagedSpotTraining,
          EnableInterContainerTrafficEncryption: training.EnableInterContainerTrafficEncryption,
          VpcConfig: training.VpcConfig,
          // HyperParameterTrainingJobDefinition takes the same Environment map as CreateTrainingJob.
          Environment: training.Environment,
          'StaticHyperParameters.$': '$.staticHyperParameters',
        },
      },
      '$.tuning',
    );
    const withStatics = new sfn.Pass(this, 'StaticHyperParameters', {
      comment: 'Every trial gets study_uri (where it writes its result, one object per trial) and models_uri (where SageMaker puts its model)',
      parameters: {
        'jobName.$': '$.jobName',
        [runField]: PROCESSED_RUN_PATH,
        staticHyperParameters: {
          // SageMaker rejects a hyperparameter that is both static and searched.
          ...Object.fromEntries(Object.entries(training.StaticHyperParameters as Record<string, string>).filter(([k]) => !(k in props.searchSpace))),
          'study_uri.$': `States.Format('${props.dataLake.s3Uri('state', 'studies/')}{}/', $.jobName)`,
          // The trial records its model archive under <models_uri><trial job>/output/ (OutputDataConfig).
          models_uri: props.dataLake.s3Uri('models'),
        },
      },
    });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: (props.retainOnDelete ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const runtime = (training.StoppingCondition as { MaxWaitTimeInSeconds?: number; MaxRuntimeInSeconds: number });
    const waves = Math.ceil(props.trials / parallel);
    nameStudy.next(withStatics).next(tune);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(findRun),
      timeout: Duration.seconds(Math.min(waves * (runtime.MaxWaitTimeInSeconds ?? runtime.MaxRuntimeInSeconds), 364 * 86_400)),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
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

  private validate(props: HyperparameterTuningProps): void {
    const v = new PropsValidator(this, props.configFile);
    v.check(Number.isInteger(props.trials) && props.trials >= 1 && props.trials <= 750, 'trials', 'tuning.trials', `SageMaker runs 1-750 trials per tuning job, found ${props.trials}`);
    const parallel = props.maxParallelTrials;
    v.check(parallel === undefined || (Number.isInteger(parallel) && parallel >= 1 && parallel <= 100), 'maxParallelTrials', 'maxParallelTrials', `must be 1-100, found ${parallel}`);
    v.check(TRAINING_METRICS.includes(props.metric ?? 'auc'), 'metric', 'tuning.metric', `expected one of ${TRAINING_METRICS.join(', ')}`);
    const names = Object.keys(props.searchSpace);
    if (props.epochsPerTrial) {
      const { min, max } = props.epochsPerTrial;
      v.check(Number.isInteger(min) && min >= 1 && min <= max, 'epochsPerTrial', 'tuning.min_epochs', `must be a whole number from 1 to training_params.epochs (${max}), found ${min}`);
    }
    v.check(names.length >= 1, 'searchSpace', 'tuning.search_space', 'needs at least one hyperparameter to search');
    v.check(names.length <= 30, 'searchSpace', 'tuning.search_space', `SageMaker searches at most 30 hyperparameters, found ${names.length}`);
    for (const [name, dim] of Object.entries(props.searchSpace)) {
      if ('values' in dim) {
        v.check(dim.values.length >= 1 && dim.values.length <= 30, 'searchSpace', `tuning.search_space.${name}.values`, `SageMaker accepts 1-30 categorical values, found ${dim.values.length}`);
      } else {
        v.check(dim.min < dim.max, 'searchSpace', `tuning.search_space.${name}`, `min (${dim.min}) must be < max (${dim.max}) for a SageMaker range`);
        v.check(!dim.log || dim.min > 0, 'searchSpace', `tuning.search_space.${name}`, 'a log-scale range needs min > 0');
      }
    }
    v.check(
      /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,22}$/.test(props.jobNamePrefix),
      'jobNamePrefix',
      'project (pipeline.json) + environment',
      `"${props.jobNamePrefix}" must be 1-23 letters, digits and dashes (tuning job names are at most 32 characters)`,
    );
    v.throwIfInvalid();
  }
}
