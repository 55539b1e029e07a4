import { Stack, type Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { removalPolicyFor } from './retention';

/** Where a pipeline's state machine keeps the processed run id it trains on (`$.processedRun`). */
export const PROCESSED_RUN_PATH = '$.processedRun';

/** The Pass-state parameter that writes PROCESSED_RUN_PATH. */
export const PROCESSED_RUN_FIELD = `${PROCESSED_RUN_PATH.slice(2)}.$`;

/** The execution input that names a processed run explicitly: `{"processed_run": "<run id>"}`. */
export const PROCESSED_RUN_INPUT = 'processed_run';

/**
 * `States.Format('<template>', <paths>)`: each `{}` of the template takes the value at the next JSON path.
 * Templates here are bucket names, validated prefixes and CDK tokens, none of which holds a
 * character States.Format would need escaped (a quote or a backslash).
 */
export function statesFormat(template: string, ...paths: string[]): string {
  if (/['\\]/.test(template)) throw new Error(`States.Format template ${template} holds a quote or backslash`);
  return `States.Format('${template}', ${paths.join(', ')})`;
}

/**
 * A unique job name at run time: `<prefix>-<group of a fresh UUID>` (group 0 has 8 hex digits, group 4 has 12),
 * so the name fits SageMaker's limit for that kind of job.
 */
export function uniqueJobName(prefix: string, uuidGroup: 0 | 4): string {
  return `States.Format('${prefix}-{}', States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), ${uuidGroup}))`;
}

/** A Choice condition: the input holds a string at `path`. */
export function stringGiven(path: string): sfn.Condition {
  return sfn.Condition.and(sfn.Condition.isPresent(path), sfn.Condition.isString(path));
}

/** A Step Functions state that calls a SageMaker optimized integration and waits (`.sync`) for the job. */
export function sageMakerSyncState(scope: Construct, id: string, action: string, parameters: object, resultPath: string): sfn.CustomState {
  return new sfn.CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Stack.of(scope).partition}:states:::sagemaker:${action}.sync`,
      Parameters: parameters,
      ResultPath: resultPath,
    },
  });
}

export interface PipelineStateMachineProps {
  /** The first state. */
  readonly start: sfn.IChainable;
  /** Longest an execution may run. */
  readonly timeout: Duration;
  /** Keep the execution log group on stack deletion (config `retain_on_delete`). */
  readonly retainOnDelete: boolean;
}

/** A traced state machine logging every execution (inputs and outputs included) to its own log group `Logs`. */
export function pipelineStateMachine(scope: Construct, props: PipelineStateMachineProps): sfn.StateMachine {
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    retention: logs.RetentionDays.THREE_MONTHS,
    removalPolicy: removalPolicyFor(props.retainOnDelete),
  });
  return new sfn.StateMachine(scope, 'StateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(props.start),
    timeout: props.timeout,
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
  });
}
