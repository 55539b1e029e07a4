// UsageError lives beneath the stages (runtime/common/errors.ts) so training can raise it; the commands import it from here.
export { MlstackError, UsageError } from '../common/errors';
