import { main as cliMain } from '../../runtime/cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in-process and captures stdout and stderr. With `stderrIsTty` stderr poses as a
 * terminal (cli-progress draws its bars only on one), 200 columns wide.
 */
export async function runCliCaptured(args: string[], options: { stderrIsTty?: boolean } = {}): Promise<CliResult> {
  const stderr = process.stderr as NodeJS.WriteStream & { isTTY?: boolean; columns?: number };
  const saved = { isTTY: stderr.isTTY, columns: stderr.columns };
  if (options.stderrIsTty !== undefined) Object.assign(stderr, { isTTY: options.stderrIsTty, columns: 200 });
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await cliMain(['node', 'mlstack', ...args]);
    const text = (calls: unknown[][]): string => calls.map((c) => String(c[0])).join('');
    return { code, stdout: text(out.mock.calls), stderr: text(err.mock.calls) };
  } finally {
    out.mockRestore();
    err.mockRestore();
    Object.assign(stderr, saved);
  }
}
