/**
 * The cdktf stacks proven by the tool that consumes them: `terraform init -backend=false` on every
 * synthesized gcp-* and azure-* stack, and `terraform fmt -check` on their HCL output.
 *
 * Providers cannot be downloaded here, and the test makes sure of it: Terraform is pointed at an empty
 * filesystem mirror, so init reads and checks the whole configuration (depends_on, references,
 * meta-arguments) and then stops at provider installation. That failure ("Failed to query available
 * provider packages") is the only one accepted; any configuration error or deprecation warning fails.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildCdktfApp, cdktfStackNames, synthCdktfApp } from '../../infra/cdktf/app';
import { unwrapInterpolationOnly } from '../../infra/cdktf/hcl';
import { makeTempDir, requireAllServices } from '../helpers/tmp';
import { repoConfig, servedConfig } from './cdktf-configs';

const run = promisify(execFile);
const TERRAFORM_AT = '/usr/local/bin/terraform';
/** The one init failure allowed: the provider download this machine (and the test) cannot make. */
const PROVIDER_DOWNLOAD = 'Failed to query available provider packages';

function findTerraform(): string | undefined {
  if (fs.existsSync(TERRAFORM_AT)) return TERRAFORM_AT;
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'terraform'))
    .find((candidate) => fs.existsSync(candidate));
}

const terraform = findTerraform();
if (!terraform) {
  if (requireAllServices) {
    test('terraform is installed (required in CI: MLSTACK_REQUIRE_SERVICES=1)', () => {
      throw new Error(`terraform not found at ${TERRAFORM_AT} or on PATH; the cdktf stacks cannot be checked without it`);
    });
  } else {
    console.warn(`terraform not found at ${TERRAFORM_AT} or on PATH: skipping the terraform init/fmt checks of the cdktf stacks`);
  }
}

interface TerraformRun {
  code: number;
  output: string;
}

/** Runs terraform offline: no registry lookups (empty mirror), no version checkpoint, no prompts. */
async function tf(args: string[], cwd: string, cliConfig: string): Promise<TerraformRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_INPUT: '0' };
  delete env.TF_PLUGIN_CACHE_DIR;
  delete env.TF_DATA_DIR;
  try {
    const { stdout, stderr } = await run(terraform!, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** Runs `work` over `items`, `limit` at a time. */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += limit) results.push(...(await Promise.all(items.slice(i, i + limit).map(work))));
  return results;
}

/** What init printed beyond provider installation: error headings other than the download, and any warning. */
function configurationProblems(output: string): string[] {
  const headings = output.split('\n').filter((line) => /^\s*(Error|Warning): /.test(line)).map((line) => line.trim());
  return headings.filter((heading) => heading !== `Error: ${PROVIDER_DOWNLOAD}`);
}

const VARIANTS = { repository: repoConfig(), served: servedConfig() };
type Variant = keyof typeof VARIANTS;

(terraform ? describe : describe.skip)('terraform accepts every synthesized cdktf stack', () => {
  const root = makeTempDir('mlstack-terraform-');
  const cliConfig = path.join(root, 'offline.tfrc');
  const outdir = (variant: Variant, format: 'json' | 'hcl') => path.join(root, `${variant}-${format}`);
  const stackNames = cdktfStackNames(VARIANTS.repository);

  beforeAll(async () => {
    const mirror = path.join(root, 'empty-provider-mirror');
    fs.mkdirSync(mirror);
    fs.writeFileSync(cliConfig, `provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(mirror)}\n  }\n}\n`);
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      for (const format of ['json', 'hcl'] as const) {
        const app = buildCdktfApp({ config: VARIANTS[variant], outdir: outdir(variant, format), backendEnv: {}, hclOutput: format === 'hcl' });
        await synthCdktfApp(app);
      }
    }
  }, 120_000);

  /** Copies one synthesized stack to its own folder (init writes .terraform there) and runs init. */
  async function initStack(variant: Variant, format: 'json' | 'hcl', stack: string): Promise<TerraformRun & { stack: string }> {
    const work = path.join(root, 'init', `${variant}-${format}-${stack}`);
    fs.cpSync(path.join(outdir(variant, format), 'stacks', stack), work, { recursive: true });
    return { stack, ...(await tf(['init', '-backend=false', '-input=false', '-no-color'], work, cliConfig)) };
  }

  test('there are eight stacks with the repository config', () => {
    expect(stackNames).toHaveLength(8);
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      expect(fs.readdirSync(path.join(outdir(variant, 'json'), 'stacks')).sort()).toEqual([...stackNames].sort());
    }
  });

  test.each([
    ['repository', 'json'],
    ['served', 'json'],
    ['repository', 'hcl'],
    ['served', 'hcl'],
  ] as const)('terraform init passes the configuration stage on every stack (%s config, %s output)', async (variant, format) => {
    const runs = await inBatches(stackNames, 4, (stack) => initStack(variant, format, stack));
    for (const result of runs) {
      const context = `${result.stack} (${variant}, ${format}):\n${result.output}`;
      expect({ context, problems: configurationProblems(result.output) }).toEqual({ context, problems: [] });
      expect({ context, reachedProviders: result.output.includes('Initializing provider plugins') }).toEqual({ context, reachedProviders: true });
      // A machine with the providers mirrored would finish init; otherwise the download is what stopped it.
      if (result.code !== 0) expect({ context, stoppedAt: result.output.includes(PROVIDER_DOWNLOAD) }).toEqual({ context, stoppedAt: true });
    }
  }, 60_000);

  test('the check bites: the depends_on form that broke every gcp stack is a configuration error', async () => {
    const stack = stackNames.find((name) => name.startsWith('gcp-'))!;
    const work = path.join(root, 'broken');
    fs.cpSync(path.join(outdir('repository', 'json'), 'stacks', stack), work, { recursive: true });
    const file = path.join(work, 'cdk.tf.json');
    const tfJson = JSON.parse(fs.readFileSync(file, 'utf8'));
    const bucket = Object.values(tfJson.resource.google_storage_bucket)[0] as { depends_on: string[] };
    bucket.depends_on = ['${google_project_service.api-storage}'];
    fs.writeFileSync(file, JSON.stringify(tfJson));
    const result = await tf(['init', '-backend=false', '-input=false', '-no-color'], work, cliConfig);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('Invalid expression');
    expect(configurationProblems(result.output)).toContainEqual('Error: Invalid expression');
  });

  test.each(['repository', 'served'] as const)('terraform fmt -check finds the HCL output formatted (%s config)', async (variant) => {
    const stacksDir = path.join(outdir(variant, 'hcl'), 'stacks');
    expect(fs.readdirSync(stacksDir).map((stack) => fs.existsSync(path.join(stacksDir, stack, 'cdk.tf')))).toEqual(stackNames.map(() => true));
    const result = await tf(['fmt', '-check', '-recursive', '-diff', '-no-color', '.'], stacksDir, cliConfig);
    expect({ code: result.code, output: result.output }).toEqual({ code: 0, output: '' });
  });
});

describe('HCL output normalisation (what terraform fmt would rewrite)', () => {
  test('interpolation-only block attributes become bare expressions; object items and longer templates keep their quotes', () => {
    const hcl = [
      'resource "x" "y" {',
      '  name     = "${azurerm_resource_group.group.name}"',
      '  key_id   = "${lookup(var.keys, "a")}"',
      '  joined   = "${a.b}-${c.d}"',
      '  literal  = "$${not.a.reference}"',
      '  tags = {',
      '    owner = "${var.owner}"',
      '  }',
      '  depends_on = [',
      '    "google_project_service.api-run",',
      '  ]',
      '  lifecycle {',
      '    ignore_changes = [',
      '      "secret_data",',
      '    ]',
      '  }',
      '  items = [',
      '    "${a.b}",',
      '  ]',
      '}',
    ].join('\n');
    expect(unwrapInterpolationOnly(hcl).split('\n')).toEqual([
      'resource "x" "y" {',
      '  name     = azurerm_resource_group.group.name',
      '  key_id   = lookup(var.keys, "a")',
      '  joined   = "${a.b}-${c.d}"',
      '  literal  = "$${not.a.reference}"',
      '  tags = {',
      '    owner = "${var.owner}"',
      '  }',
      '  depends_on = [',
      '    google_project_service.api-run,',
      '  ]',
      '  lifecycle {',
      '    ignore_changes = [',
      '      secret_data,',
      '    ]',
      '  }',
      '  items = [',
      '    "${a.b}",',
      '  ]',
      '}',
    ]);
  });
});
