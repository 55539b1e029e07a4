import { RemovalPolicy } from 'aws-cdk-lib';

/** `RemovalPolicy.RETAIN` when config `retain_on_delete` keeps a resource, else `DESTROY`. */
export function removalPolicyFor(retain: boolean): RemovalPolicy {
  return retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}
