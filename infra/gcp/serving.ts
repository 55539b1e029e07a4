import { Construct } from 'constructs';
import { CloudRunV2Service, type CloudRunV2ServiceTraffic } from '@cdktf/provider-google/lib/cloud-run-v2-service';
import { SERVING_CONTRACT } from '../../runtime/contract/images';
import { cloudRunEnv, type CloudRunContainerProps } from './jobs';
import { cloudRunSize, isCloudRunGpu } from './sizing';

/** Send `percent` of traffic to the newest revision and the rest to `stableRevision`. */
export interface CanaryTraffic {
  /** The revision that keeps the rest of the traffic. */
  readonly stableRevision: string;
  /** Share of traffic on the newest revision, 1-99. */
  readonly percent: number;
}

/** ServingService's props: its launch is registryServingLaunch (`serve` with the pinned version, the registry's bucket and the project). */
export interface ServingServiceProps extends CloudRunContainerProps {
  /** Traffic split between the stable and the newest revision. @default - all traffic on the latest revision */
  readonly canary?: CanaryTraffic;
}

/**
 * Online serving on Cloud Run. A Vertex AI endpoint cannot get a model deployed
 * from Terraform (deployed_models is output-only), while a Cloud Run service
 * declares the whole thing: image, min/max instances, concurrency, optional GPU
 * and revision traffic splits for canaries.
 */
export class ServingService extends Construct {
  readonly service: CloudRunV2Service;

  constructor(scope: Construct, id: string, props: ServingServiceProps) {
    super(scope, id);
    const { serving, region } = props.env.gcp;
    const gpu = isCloudRunGpu(serving.gpu_type) ? serving.gpu_type : null;
    const size = gpu ? cloudRunSize(`x-${serving.cpu}`, gpu) : { cpu: serving.cpu, memory: serving.memory };
    const probe = (path: string) => ({ httpGet: { path, port: SERVING_CONTRACT.port } });
    this.service = new CloudRunV2Service(this, 'service', {
      name: props.name,
      location: region,
      ingress: 'INGRESS_TRAFFIC_ALL',
      deletionProtection: props.env.retain_on_delete,
      labels: props.labels,
      launchStage: gpu ? 'BETA' : undefined,
      template: {
        serviceAccount: props.serviceAccountEmail,
        maxInstanceRequestConcurrency: Math.max(1, Math.round(serving.autoscaling.target_value)),
        timeout: '60s',
        scaling: {
          minInstanceCount: serving.autoscaling.min_capacity,
          maxInstanceCount: serving.autoscaling.max_capacity,
        },
        nodeSelector: gpu ? { accelerator: gpu } : undefined,
        gpuZonalRedundancyDisabled: gpu ? true : undefined,
        containers: [
          {
            image: props.image,
            args: props.launch.args,
            // Cloud Run sets PORT to this container port; the server reads PORT.
            ports: { containerPort: SERVING_CONTRACT.port },
            env: cloudRunEnv(props.launch),
            resources: {
              limits: { cpu: size.cpu, memory: size.memory, ...(gpu ? { 'nvidia.com/gpu': '1' } : {}) },
              // A GPU instance must keep its CPU allocated outside requests.
              cpuIdle: gpu ? false : true,
              startupCpuBoost: true,
            },
            // Up to 4 minutes for the model to load (SageMaker's limit too), then restart on a hung process.
            startupProbe: { ...probe(SERVING_CONTRACT.healthPath), periodSeconds: 5, failureThreshold: 48, timeoutSeconds: 2 },
            livenessProbe: { ...probe(SERVING_CONTRACT.livenessPath), periodSeconds: 15, timeoutSeconds: 2 },
          },
        ],
      },
      traffic: trafficSplit(props.canary),
    });
  }
}

export function trafficSplit(canary?: CanaryTraffic): CloudRunV2ServiceTraffic[] {
  const latest = 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST';
  if (!canary) return [{ type: latest, percent: 100 }];
  if (!Number.isInteger(canary.percent) || canary.percent <= 0 || canary.percent >= 100) {
    throw new Error(`canary percent must be an integer between 1 and 99, found ${canary.percent}`);
  }
  return [
    { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: canary.stableRevision, percent: 100 - canary.percent, tag: 'stable' },
    { type: latest, percent: canary.percent, tag: 'canary' },
  ];
}
