import { httpStatusOf, MlstackError } from '../common/errors';

/** One prediction for one input row. */
export interface Prediction {
  /** Class label (classification) or value (regression). */
  prediction: string | number;
  /** Class label -> probability (classification only). */
  probabilities?: Record<string, number>;
}

/** What the server needs from a model: everything else (formats, routes, limits) is the server's job. */
export interface Predictor {
  /** Model version reported with every prediction. */
  version: string;
  /** Input features, in the order CSV rows without a header use. */
  features: string[];
  /** Class labels in output order (classification); batch output has a probability column for each. */
  classes?: string[];
  /**
   * Type check of one row whose keys are exactly `features` (the server checks presence and
   * finiteness first). Returns a message naming the field and what was expected, or null when valid.
   */
  validateRow?(row: Record<string, unknown>): string | null;
  /** Predicts valid rows; must not throw for rows that passed `validateRow`. */
  predict(rows: Record<string, unknown>[]): Prediction[];
  /**
   * Optional fast path over a raw JSON body: the predictions when the body is a plain batch of at most
   * `maxRows` valid rows, else undefined (the server then parses, validates and calls `predict`).
   * It must give exactly what that general path gives whenever it answers.
   */
  predictJson?(body: Uint8Array, maxRows: number): Prediction[] | undefined;
  /** Runs one representative prediction so the first real request pays no JIT or lazy-init cost. */
  warmup?(): void;
}

/** The catalogue codes a client mistake can have (runtime/common/errors.ts): 400, 413 and 415. */
export type InputErrorCode = 'INPUT_INVALID' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE';

/** A client mistake: answered with its code's HTTP status and a JSON body naming the field and what was expected. */
export class InputError extends MlstackError {
  /** The HTTP status the catalogue gives the code. */
  readonly status: number;

  constructor(
    code: InputErrorCode,
    message: string,
    readonly details: { field?: string; row?: number; expected?: string } = {},
  ) {
    super(code, message);
    this.name = 'InputError';
    this.status = httpStatusOf(code);
  }
}
