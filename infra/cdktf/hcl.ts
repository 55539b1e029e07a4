/**
 * HCL output (`cdktf synth --hcl`, or the app with hclOutput): plain Terraform a team can keep when it
 * leaves cdktf. cdktf writes every reference as an interpolation-only string ("${aws_x.y.id}") and the
 * CLI aligns it with @cdktf/hcl-tools; `terraform fmt` would still rewrite each such value to the bare
 * reference. Both steps happen here, so the files are what `terraform fmt -check` accepts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type Context = 'block' | 'object' | 'list' | 'references';

const ATTRIBUTE = /^(\s*[A-Za-z_][\w-]*\s*=\s*)"\$\{(.*)\}"\s*$/;
/** Meta-arguments whose list items are references; cdktf quotes them, which Terraform warns is deprecated. */
const REFERENCE_LIST = /^(depends_on|ignore_changes|replace_triggered_by)\s*=\s*\[$/;
const QUOTED_REFERENCE = /^(\s*)"([A-Za-z_][\w.-]*)"(,?)\s*$/;

/**
 * True when `inner` (what sits between `"${` and `}"`) is one expression, not `a}-${b`: no brace closes
 * the interpolation early outside nested strings.
 */
function isSingleExpression(inner: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth < 0) return false;
  }
  return depth === 0 && !inString && inner.trim().length > 0;
}

/**
 * Rewrites `key = "${expr}"` to `key = expr` for attributes of blocks, the way `terraform fmt` does
 * (items of object and list expressions keep their quotes: fmt leaves those alone), and unquotes the
 * references in depends_on and lifecycle lists.
 */
export function unwrapInterpolationOnly(hcl: string): string {
  const stack: Context[] = [];
  return hcl
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      const context = stack[stack.length - 1] ?? 'block';
      let out = line;
      const attribute = ATTRIBUTE.exec(line);
      const reference = QUOTED_REFERENCE.exec(line);
      if (context === 'block' && attribute && isSingleExpression(attribute[2]!)) out = `${attribute[1]}${attribute[2]}`;
      else if (context === 'references' && reference) out = `${reference[1]}${reference[2]}${reference[3]}`;
      if (/^[}\]]/.test(trimmed)) stack.pop();
      if (trimmed.endsWith('{')) stack.push(/=\s*\{$/.test(trimmed) || trimmed === '{' ? 'object' : 'block');
      else if (trimmed.endsWith('[')) stack.push(REFERENCE_LIST.test(trimmed) ? 'references' : 'list');
      return out;
    })
    .join('\n');
}

/** Aligns and unwraps every stack file an HCL synth wrote under `outdir`; returns their paths. */
export async function formatHclOutput(outdir: string): Promise<string[]> {
  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
    stacks: Record<string, { synthesizedStackPath: string }>;
  };
  // The formatter ships with the cdktf CLI (a dev dependency); only HCL output needs it.
  const { format } = require('@cdktf/hcl-tools') as { format: (hcl: string) => Promise<string> };
  const files: string[] = [];
  for (const stack of Object.values(manifest.stacks)) {
    const file = path.join(outdir, stack.synthesizedStackPath);
    fs.writeFileSync(file, unwrapInterpolationOnly(await format(fs.readFileSync(file, 'utf8'))));
    files.push(file);
  }
  return files;
}
