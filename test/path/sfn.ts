/**
 * A small Step Functions interpreter for the path tests: it runs a state machine definition exactly as
 * synthesized (Pass, Choice, Task, Fail, Succeed; Parameters with JSONPath and intrinsic functions; ResultPath;
 * Catch), handing each Task to a handler that plays the service (SageMaker here, backed by moto S3 and the
 * real bundles). Step Functions itself cannot run here; this is the thinnest stand-in that still evaluates
 * the definition's data flow, which is what can go wrong in it.
 */
import { randomUUID } from 'node:crypto';

type Json = unknown;
type Obj = Record<string, Json>;

export type TaskHandler = (resource: string, parameters: Obj, stateName: string) => Promise<Json>;

export interface ExecutionStep {
  state: string;
  type: string;
  input: Json;
  output?: Json;
}

export class ExecutionFailed extends Error {
  constructor(
    readonly error: string,
    readonly reason: string,
    readonly steps: ExecutionStep[],
  ) {
    super(`execution failed: ${error}: ${reason}`);
  }
}

// ---- JSONPath (the subset Step Functions documents for paths: $, $.a.b, $.a[0], $$.Execution...) ----------

function pathParts(path: string): (string | number)[] {
  const parts: (string | number)[] = [];
  const re = /\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']+)'\]/g;
  let m: RegExpExecArray | null;
  const body = path.replace(/^\$\$?/, '');
  let consumed = 0;
  while ((m = re.exec(body))) {
    if (m.index !== consumed) throw new Error(`unsupported JSONPath "${path}"`);
    consumed = m.index + m[0].length;
    parts.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]));
  }
  if (consumed !== body.length) throw new Error(`unsupported JSONPath "${path}"`);
  return parts;
}

function getPath(doc: Json, path: string): { found: boolean; value: Json } {
  let current: Json = doc;
  for (const part of pathParts(path)) {
    if (current === null || typeof current !== 'object' || !(part in (current as Obj))) return { found: false, value: undefined };
    current = (current as Obj)[part as string];
  }
  return { found: true, value: current };
}

function setPath(doc: Json, path: string, value: Json): Json {
  const parts = pathParts(path);
  if (parts.length === 0) return value;
  const root: Obj = doc !== null && typeof doc === 'object' ? structuredClone(doc as Obj) : {};
  let current = root;
  for (const part of parts.slice(0, -1)) {
    const next = current[part as string];
    current[part as string] = next !== null && typeof next === 'object' ? next : {};
    current = current[part as string] as Obj;
  }
  current[parts[parts.length - 1] as string] = value;
  return root;
}

// ---- intrinsic functions ------------------------------------------------------------------------------

interface Scope {
  input: Json;
  context: Json;
}

function resolvePath(path: string, scope: Scope): Json {
  const doc = path.startsWith('$$') ? scope.context : scope.input;
  const { found, value } = getPath(doc, path);
  if (!found) throw new ExecutionFailed('States.Runtime', `the JSONPath ${path} could not be found in the input`, []);
  return value;
}

/** Parses and evaluates `States.Fn(arg, ...)` with string literals, numbers, paths and nested calls. */
function evaluateIntrinsic(text: string, scope: Scope): Json {
  let pos = 0;
  const skip = () => {
    while (text[pos] === ' ') pos++;
  };
  const parseArg = (): Json => {
    skip();
    if (text[pos] === "'") {
      let out = '';
      pos++;
      while (text[pos] !== "'") {
        if (pos >= text.length) throw new Error(`unterminated string in ${text}`);
        if (text[pos] === '\\') pos++;
        out += text[pos++];
      }
      pos++;
      return out;
    }
    if (text[pos] === '$') {
      const start = pos;
      while (pos < text.length && !/[,) ]/.test(text[pos])) pos++;
      return resolvePath(text.slice(start, pos), scope);
    }
    if (text.startsWith('States.', pos)) return parseCall();
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(pos));
    if (num) {
      pos += num[0].length;
      return Number(num[0]);
    }
    throw new Error(`cannot parse intrinsic argument at "${text.slice(pos)}"`);
  };
  const parseCall = (): Json => {
    const name = /^States\.[A-Za-z]+/.exec(text.slice(pos))![0];
    pos += name.length;
    if (text[pos] !== '(') throw new Error(`expected ( after ${name}`);
    pos++;
    const args: Json[] = [];
    skip();
    if (text[pos] === ')') pos++;
    else {
      for (;;) {
        args.push(parseArg());
        skip();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ')') {
          pos++;
          break;
        }
        throw new Error(`expected , or ) in ${text} at ${pos}`);
      }
    }
    return callIntrinsic(name, args);
  };
  const value = parseCall();
  skip();
  if (pos !== text.length) throw new Error(`trailing text in intrinsic ${text}`);
  return value;
}

function callIntrinsic(name: string, args: Json[]): Json {
  switch (name) {
    case 'States.Format': {
      const [template, ...values] = args as [string, ...Json[]];
      let i = 0;
      return template.replace(/\{\}/g, () => {
        const v = values[i++];
        return typeof v === 'string' ? v : JSON.stringify(v);
      });
    }
    case 'States.StringSplit':
      return String(args[0])
        .split(new RegExp(`[${String(args[1]).replace(/[\]\\^-]/g, '\\$&')}]`))
        .filter((s) => s !== '');
    case 'States.ArrayGetItem': {
      const array = args[0] as Json[];
      const index = args[1] as number;
      if (!Array.isArray(array) || index >= array.length) throw new ExecutionFailed('States.Runtime', `States.ArrayGetItem index ${index} out of range`, []);
      return array[index];
    }
    case 'States.UUID':
      return randomUUID();
    case 'States.StringToJson':
      return JSON.parse(String(args[0]));
    case 'States.JsonToString':
      return JSON.stringify(args[0]);
    default:
      throw new Error(`intrinsic ${name} is not supported by this interpreter`);
  }
}

/** Evaluates a Parameters / ResultSelector template against the state input. */
export function evaluateTemplate(template: Json, scope: Scope): Json {
  if (Array.isArray(template)) return template.map((t) => evaluateTemplate(t, scope));
  if (template === null || typeof template !== 'object') return template;
  const out: Obj = {};
  for (const [key, value] of Object.entries(template as Obj)) {
    if (key.endsWith('.$')) {
      const expr = String(value);
      out[key.slice(0, -2)] = expr.startsWith('States.') ? evaluateIntrinsic(expr, scope) : resolvePath(expr, scope);
    } else {
      out[key] = evaluateTemplate(value, scope);
    }
  }
  return out;
}

// ---- Choice rules ------------------------------------------------------------------------------------

function matchesRule(rule: Obj, input: Json, scope: Scope): boolean {
  if (Array.isArray(rule.And)) return (rule.And as Obj[]).every((r) => matchesRule(r, input, scope));
  if (Array.isArray(rule.Or)) return (rule.Or as Obj[]).some((r) => matchesRule(r, input, scope));
  if (rule.Not) return !matchesRule(rule.Not as Obj, input, scope);
  const variable = String(rule.Variable);
  const { found, value } = getPath(variable.startsWith('$$') ? scope.context : input, variable);
  if ('IsPresent' in rule) return found === rule.IsPresent;
  if (!found) throw new ExecutionFailed('States.Runtime', `Choice variable ${variable} is not in the input`, []);
  if ('StringEquals' in rule) return value === rule.StringEquals;
  if ('StringMatches' in rule) {
    const pattern = new RegExp(`^${String(rule.StringMatches).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return typeof value === 'string' && pattern.test(value);
  }
  if ('BooleanEquals' in rule) return value === rule.BooleanEquals;
  if ('NumericEquals' in rule) return value === rule.NumericEquals;
  if ('IsString' in rule) return (typeof value === 'string') === rule.IsString;
  throw new Error(`Choice rule ${JSON.stringify(rule)} is not supported by this interpreter`);
}

// ---- the run loop ------------------------------------------------------------------------------------

interface StateDef extends Obj {
  Type: string;
  Next?: string;
  End?: boolean;
}

export interface Definition {
  StartAt: string;
  States: Record<string, StateDef>;
}

function applyResult(state: StateDef, input: Json, result: Json): Json {
  if (state.ResultPath === null) return input;
  const resultPath = (state.ResultPath as string | undefined) ?? '$';
  const withResult = setPath(input, resultPath, result);
  return state.OutputPath ? getPath(withResult, state.OutputPath as string).value : withResult;
}

/** Runs `definition` from StartAt with `input`; Task states go to `handle`. Resolves to the final output. */
export async function runStateMachine(definition: Definition, input: Json, handle: TaskHandler, maxSteps = 100): Promise<{ output: Json; steps: ExecutionStep[] }> {
  const steps: ExecutionStep[] = [];
  const context = { Execution: { Id: `exec-${randomUUID()}`, Input: input, StartTime: new Date().toISOString() } };
  let name: string | undefined = definition.StartAt;
  let current = input;
  while (name) {
    if (steps.length >= maxSteps) throw new Error(`more than ${maxSteps} steps: a loop in the definition?`);
    const state: StateDef | undefined = definition.States[name];
    if (!state) throw new Error(`state "${name}" is not defined`);
    const step: ExecutionStep = { state: name, type: state.Type, input: current };
    steps.push(step);
    const scope: Scope = { input: state.InputPath ? getPath(current, state.InputPath as string).value : current, context };
    let next: string | undefined = state.Next;
    try {
      switch (state.Type) {
        case 'Pass': {
          const result = state.Parameters !== undefined ? evaluateTemplate(state.Parameters, scope) : state.Result !== undefined ? state.Result : scope.input;
          current = applyResult(state, current, result);
          break;
        }
        case 'Choice': {
          const matched = ((state.Choices as Obj[]) ?? []).find((rule) => matchesRule(rule, scope.input, scope));
          next = (matched?.Next as string | undefined) ?? (state.Default as string | undefined);
          if (!next) throw new ExecutionFailed('States.NoChoiceMatched', `no Choice rule of ${name} matched and there is no Default`, steps);
          break;
        }
        case 'Task': {
          const parameters = evaluateTemplate(state.Parameters ?? {}, scope) as Obj;
          const raw = await handle(String(state.Resource), parameters, name);
          const selected = state.ResultSelector ? evaluateTemplate(state.ResultSelector, { input: raw, context }) : raw;
          current = applyResult(state, current, selected);
          break;
        }
        case 'Fail':
          throw new ExecutionFailed(String(state.Error ?? 'States.Fail'), String(state.Cause ?? ''), steps);
        case 'Succeed':
          next = undefined;
          break;
        default:
          throw new Error(`state type ${state.Type} is not supported by this interpreter`);
      }
    } catch (err) {
      const catcher = ((state.Catch as Obj[] | undefined) ?? []).find((c) => (c.ErrorEquals as string[]).includes('States.ALL'));
      if (!catcher || state.Type === 'Fail' || !(err instanceof Error)) throw err;
      const errorOutput = { Error: err instanceof ExecutionFailed ? err.error : err.name, Cause: err.message };
      current = setPath(current, (catcher.ResultPath as string | undefined) ?? '$', errorOutput);
      next = catcher.Next as string;
    }
    step.output = current;
    name = state.End ? undefined : next;
  }
  return { output: current, steps };
}
