/**
 * Replaces values inside a JSON document's text without re-serialising it (jsonc-parser's modify +
 * applyEdits), so a promotion's diff touches exactly the lines it changes and keeps the file's formatting
 * (indentation, inline arrays, trailing newline) as the author wrote it.
 */
import { applyEdits, findNodeAtLocation, modify, parseTree, printParseErrorCode, type JSONPath, type Node, type ParseError } from 'jsonc-parser';
import { ConfigInvalidError } from '../common/errors';

/** One replacement: the key path of an EXISTING value and its new value. */
export interface JsonValueEdit {
  path: string[];
  value: string | number | boolean | null;
}

/** Config files are strict JSON (JSON.parse reads them): no comments, no trailing commas. */
const STRICT = { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false } as const;

function describeParseError(error: ParseError): string {
  const words = printParseErrorCode(error.error).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return `${words} at offset ${error.offset}`;
}

/** The jsonc path of `path` in the parsed tree (array indices as numbers); undefined when some key is absent. */
function existingPath(root: Node, path: string[]): JSONPath | undefined {
  const located: JSONPath = [];
  let node: Node | undefined = root;
  for (const segment of path) {
    const step = node.type === 'array' ? Number(segment) : segment;
    if (typeof step === 'number' && !Number.isInteger(step)) return undefined;
    node = findNodeAtLocation(node, [step]);
    if (!node) return undefined;
    located.push(step);
  }
  return located;
}

/**
 * Returns `text` with each edited value replaced in place. Every path must
 * already exist (promotion never adds keys: the schema requires them).
 */
export function replaceJsonValues(text: string, edits: JsonValueEdit[], fileName = 'document'): string {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, STRICT);
  if (errors.length > 0 || !root) throw new ConfigInvalidError(`${fileName} is not valid JSON: ${errors.length ? describeParseError(errors[0]) : 'it is empty'}`);
  const located = edits.map((edit) => {
    const path = existingPath(root, edit.path);
    if (!path) throw new ConfigInvalidError(`${fileName} has no key "${edit.path.join('.')}" to update: add it (see config/schema.ts)`);
    return { path, value: edit.value };
  });
  // Without formatting options modify() replaces only the value's own text.
  return located.reduce((current, { path, value }) => applyEdits(current, modify(current, path, value, {})), text);
}
