import { test } from 'node:test';
import assert from 'node:assert/strict';
import { declaredRequirement, judgeRuntime, parseVersion, satisfiesPep440, satisfiesRange, type Version } from '../../shared/domain/runtime-versions.ts';

const v = (s: string): Version => parseVersion(s)!;

test('versions are read from what each tool prints', () => {
  assert.deepEqual(parseVersion('v20.20.2'), [20, 20, 2]);
  assert.deepEqual(parseVersion('go1.19.8'), [1, 19, 8]);
  assert.deepEqual(parseVersion('openjdk version "17.0.9" 2023-10-17'), [17, 0, 9]);
  assert.deepEqual(parseVersion('3.11.7\n'), [3, 11, 7]);
  assert.equal(parseVersion('command not found'), undefined);
});

test('npm ranges: comparators, caret, tilde, x-ranges, hyphens and alternatives', () => {
  const cases: Array<[string, string, boolean]> = [
    ['20.20.2', '>=22.12', false], ['22.12.0', '>=22.12', true], ['22.11.9', '>=22.12.0', false],
    ['20.20.2', '^20.9 || >=22', true], ['21.0.0', '^20.9 || >=22', false], ['22.1.0', '^20.9 || >=22', true],
    ['20.20.2', '>=18 <21', true], ['21.0.0', '>=18 <21', false], ['20.1.0', '~20.1', true], ['20.2.0', '~20.1', false],
    ['20.5.0', '20.x', true], ['21.0.0', '20', false], ['0.2.5', '^0.2.1', true], ['0.3.0', '^0.2.1', false],
    ['18.5.0', '16 - 18', true], ['19.0.0', '16 - 18', false], ['23.0.0', '>22', true], ['22.9.0', '>22', false], ['22.9.0', '<=22', true],
    ['20.0.0', '*', true],
  ];
  for (const [version, range, expected] of cases) assert.equal(satisfiesRange(v(version), range), expected, `${version} ${range}`);
  assert.equal(satisfiesRange(v('20.0.0'), 'latest'), undefined, 'a dist-tag cannot be judged');
});

test('composer constraints: tilde allows minor changes, | and , combine', () => {
  assert.equal(satisfiesRange(v('8.2.7'), '~8.1', 'composer'), true);
  assert.equal(satisfiesRange(v('9.0.0'), '~8.1', 'composer'), false);
  assert.equal(satisfiesRange(v('8.2.7'), '^8.3 | ^7.4', 'composer'), false);
  assert.equal(satisfiesRange(v('8.2.7'), '>=8.1,<9', 'composer'), true);
});

test('PEP 440 specifiers for requires-python', () => {
  assert.equal(satisfiesPep440(v('3.11.7'), '>=3.12'), false);
  assert.equal(satisfiesPep440(v('3.11.7'), '>=3.9, <3.13'), true);
  assert.equal(satisfiesPep440(v('3.11.7'), '~=3.10'), true);
  assert.equal(satisfiesPep440(v('4.0.0'), '~=3.10'), false);
  assert.equal(satisfiesPep440(v('3.11.7'), '==3.11.*'), true);
  assert.equal(satisfiesPep440(v('3.11.7'), '!=3.11.7'), false);
  assert.equal(satisfiesPep440(v('3.11.7'), 'python3'), undefined);
});

test('declarations are read from each ecosystem\'s file', () => {
  assert.equal(declaredRequirement('package.json engines.node', '{"engines":{"node":">=22.12"}}')?.requirement, '>=22.12');
  assert.equal(declaredRequirement('package.json engines.node', '{"name":"x"}'), undefined);
  assert.equal(declaredRequirement('package.json engines.node', 'not json'), undefined);
  const py = declaredRequirement('pyproject.toml requires-python', '[tool.x]\nrequires-python = "nope"\n[project]\nname = "a"\nrequires-python = ">=3.12"\n');
  assert.equal(py?.requirement, '>=3.12');
  assert.equal(py?.check(v('3.11.7')), false);
  const go = declaredRequirement('go.mod go directive', 'module example.com/x\n\ngo 1.21\n');
  assert.equal(go?.check(v('go1.19.8')), false);
  assert.equal(go?.check(v('go1.23.2')), true);
  assert.equal(declaredRequirement('composer.json require.php', '{"require":{"php":"^8.3"}}')?.check(v('8.2.1')), false);
});

test('the verdict states asked and got, and fails only when the project declares the version it got unsupported', () => {
  const needs = declaredRequirement('package.json engines.node', '{"engines":{"node":">=22.12"}}');
  const refused = judgeRuntime('nodejs', '22', 'v20.20.2', needs);
  assert.equal(refused.ok, false);
  assert.match(refused.message, /^runtime nodejs: asked 22, got 20\.20\.2, but the project requires nodejs >=22\.12 \(package\.json engines\.node\)/);
  const silent = judgeRuntime('nodejs', '22', 'v20.20.2', undefined);
  assert.equal(silent.ok, true);
  assert.match(silent.message, /asked 22, got 20\.20\.2 \(this machine's; the project declares no supported versions\)/);
  assert.equal(judgeRuntime('python', '3.12', '3.12.4', undefined).message, 'runtime python: asked 3.12, got 3.12.4');
});
