import type { ParserConfig } from '../../config/schema';
import { MlstackError } from '../common/errors';

/** A parser.json problem found before any fetch (or before the first row is written). */
export class IngestionConfigError extends MlstackError {
  constructor(readonly problems: string[]) {
    super('CONFIG_INVALID', `invalid ingestion configuration (config/parser.json):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'IngestionConfigError';
  }
}

/** How each processed column is read from a source record. */
export interface FieldPlan {
  /** Processed column names, in selected_fields order. */
  columns: string[];
  /** Source field name for each column (same index). */
  sourceNames: string[];
  /** Source-side name of parser.json watermark_field (a processed name), when set. */
  watermarkSource?: string;
}

/**
 * Resolves selected_fields through field_mappings and checks them. `sourceFields` is what the source
 * declares (config source_fields, a CSV header, query columns); without it only the config itself is checked.
 * Collects every problem and throws them together.
 */
export function planFields(parser: ParserConfig, sourceFields?: readonly string[]): FieldPlan {
  const problems: string[] = [];
  const mappings = parser.field_mappings;
  const sourceOf = new Map<string, string>();
  for (const [source, target] of Object.entries(mappings)) {
    const previous = sourceOf.get(target);
    if (previous !== undefined) problems.push(`field_mappings maps both "${previous}" and "${source}" to "${target}": give each a distinct name`);
    else sourceOf.set(target, source);
  }
  const declared = sourceFields ? new Set(sourceFields) : undefined;
  if (declared) {
    for (const [target, source] of sourceOf) {
      if (declared.has(target) && mappings[target] === undefined && target !== source) {
        problems.push(`field_mappings renames "${source}" to "${target}", but the source already has a field "${target}": map that one to another name too`);
      }
    }
  }
  const dup = parser.selected_fields.find((f, i) => parser.selected_fields.indexOf(f) !== i);
  if (dup !== undefined) problems.push(`selected_fields lists "${dup}" twice`);
  const sourceNames = parser.selected_fields.map((column) => {
    const mapped = sourceOf.get(column);
    if (mapped !== undefined) {
      if (declared && !declared.has(mapped)) {
        problems.push(`selected field "${column}" comes from source field "${mapped}" (field_mappings), which the source does not have; it has: ${[...declared].join(', ')}`);
      }
      return mapped;
    }
    if (mappings[column] !== undefined) {
      problems.push(`selected_fields names "${column}", a source field that field_mappings renames to "${mappings[column]}": select "${mappings[column]}" instead`);
    } else if (declared && !declared.has(column)) {
      problems.push(`selected_fields names "${column}", which is neither a field_mappings target nor a source field; the source has: ${[...declared].join(', ')}`);
    }
    return column;
  });
  let watermarkSource: string | undefined;
  if (parser.watermark_field !== undefined) {
    watermarkSource = sourceOf.get(parser.watermark_field) ?? parser.watermark_field;
    if (mappings[parser.watermark_field] !== undefined) {
      problems.push(`watermark_field "${parser.watermark_field}" is a source name that field_mappings renames: use the processed name "${mappings[parser.watermark_field]}"`);
    } else if (declared && !declared.has(watermarkSource)) {
      problems.push(`watermark_field "${parser.watermark_field}" (source field "${watermarkSource}") is not a field of the source`);
    }
  }
  const uniqueKey = parser.ingestion?.unique_key;
  for (const name of typeof uniqueKey === 'string' ? [uniqueKey] : (uniqueKey ?? [])) {
    if (!parser.selected_fields.includes(name)) {
      problems.push(`ingestion.unique_key names "${name}", which is not in selected_fields: the key is read from processed rows, so name selected fields (after field_mappings)`);
    }
  }
  if (problems.length > 0) throw new IngestionConfigError(problems);
  return { columns: [...parser.selected_fields], sourceNames, watermarkSource };
}
