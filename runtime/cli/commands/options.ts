import type { StoreCloud } from '../../storage/open';
import { UsageError } from '../errors';

/** Validates a --cloud value; `local` is accepted where the command can run without a cloud. */
export function parseCloud(value: string, allowLocal: boolean): StoreCloud {
  const { CLOUDS } = require('../../../config/schema') as typeof import('../../../config/schema');
  const accepted: string[] = allowLocal ? ['local', ...CLOUDS] : [...CLOUDS];
  if (!accepted.includes(value)) {
    throw new UsageError(`unknown --cloud "${value}": expected one of ${accepted.join(', ')}`);
  }
  return value as StoreCloud;
}

/** Parses a non-negative integer option, naming the flag when it is not one. */
export function parseInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} expects a non-negative integer, got "${value}"`);
  return n;
}
