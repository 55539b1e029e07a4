/**
 * "Nothing spells them twice": the names that join stacks and containers live in runtime/contract only.
 * Code (comments aside) anywhere else in runtime/, infra/ and containers/ reads them from there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENV, PLATFORM_ENV } from '../../runtime/contract/env';

const ROOT = path.resolve(__dirname, '..', '..');
const SCANNED = ['runtime', 'infra', 'containers'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Non-comment lines of every scanned file outside runtime/contract, with their location. */
function codeLines(): { where: string; text: string }[] {
  return SCANNED.flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
    .filter((file) => !path.relative(ROOT, file).startsWith(path.join('runtime', 'contract')))
    .flatMap((file) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((text, i) => ({ where: `${path.relative(ROOT, file)}:${i + 1}`, text }))
        .filter(({ text }) => !/^\s*(\/\/|\*|\/\*)/.test(text)),
    );
}

describe('the contract is spelled once', () => {
  const lines = codeLines();

  test('no MLSTACK_* variable name is spelled outside runtime/contract/env.ts', () => {
    const offenders = lines.filter(({ text }) => /MLSTACK_[A-Z_]+/.test(text)).map(({ where, text }) => `${where}: ${text.trim()}`);
    expect(offenders).toEqual([]);
  });

  test.each([
    ['the marker of a complete processed run', /['"`]_SUCCESS\.json['"`]/],
    ['the model archive', /['"`]model\.tar\.gz['"`]/],
    ['the registry prefix', /['"`]registry\/['"`]/],
    ['the local workdir', /['"`]\.mlstack['"`]/],
  ])('%s is spelled only in runtime/contract/layout.ts', (_what, pattern) => {
    const offenders = lines.filter(({ text }) => pattern.test(text)).map(({ where, text }) => `${where}: ${text.trim()}`);
    expect(offenders).toEqual([]);
  });

  test('every catalogued variable is used by code outside the catalogue (the test helpers read the CI switch)', () => {
    const helpers = sourceFiles(path.join(ROOT, 'test', 'helpers')).map((file) => fs.readFileSync(file, 'utf8'));
    const code = [...lines.map((l) => l.text), ...helpers].join('\n');
    const unused = [
      ...Object.keys(ENV).filter((key) => !new RegExp(`\\bENV\\.${key}\\b`).test(code)),
      ...Object.keys(PLATFORM_ENV).filter((key) => !new RegExp(`\\bPLATFORM_ENV\\.${key}\\b`).test(code)),
    ];
    expect(unused).toEqual([]);
  });
});
