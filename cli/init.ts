/**
 * `slipway init`: a pipeline file for the repository it is run in. The language
 * is detected from the files a build tool needs (package.json, pom.xml, ...); what
 * cannot be detected is asked for in a terminal, and is a usage error elsewhere.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { spawnSync } from 'node:child_process';
import { TEMPLATE_NAMES, type TemplateName } from '../shared/domain/pipeline.ts';
import { starterPipeline } from '../shared/domain/templates.ts';

export interface Detected {
  template: TemplateName;
  /** The file that gave it away, for the message. */
  evidence: string;
}

/** Build files, in the order they are believed: a repository with both pom.xml and package.json is built by Maven. */
const MARKERS: Array<[file: string | RegExp, template: TemplateName]> = [
  ['pom.xml', 'java'],
  ['build.gradle', 'java-gradle'],
  ['build.gradle.kts', 'java-gradle'],
  ['go.mod', 'go'],
  ['CMakeLists.txt', 'cpp'],
  ['composer.json', 'php'],
  ['pyproject.toml', 'python'],
  [/^requirements.*\.txt$/, 'python'],
  ['setup.py', 'python'],
  ['package.json', 'node'],
];

/** The template for the repository at `dir`, from its top-level files; undefined when none fits. */
export function detectLanguage(dir: string): Detected | undefined {
  let files: string[];
  try { files = readdirSync(dir); } catch { return undefined; }
  for (const [marker, template] of MARKERS) {
    const hit = typeof marker === 'string' ? files.find((f) => f === marker) : files.find((f) => marker.test(f));
    if (hit) return { template, evidence: hit };
  }
  return undefined;
}

/** owner/name of the repository's origin remote (GitHub, GitLab or Bitbucket, https or ssh). */
export function originRepository(dir: string): string | undefined {
  const r = spawnSync('git', ['-C', dir, 'remote', 'get-url', 'origin'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const m = /^(?:[a-z+]+:\/\/[^/]+\/|[^@\s]+@[^:\s]+:)(.+?)(?:\.git)?\/?$/.exec(r.stdout.trim());
  return m?.[1];
}

export class InitError extends Error {}

export interface InitOptions {
  /** Where to write, absolute. */
  file: string;
  template?: string;
  branch: string;
  repository?: string;
  /** Ask for what cannot be detected (stdin and stdout are a terminal). */
  interactive: boolean;
}

export async function initPipeline(opts: InitOptions): Promise<{ file: string; template: TemplateName; detected?: string; repository: string; image: boolean }> {
  const dir = path.dirname(opts.file);
  let template = opts.template as TemplateName | undefined;
  let detected: string | undefined;
  if (template !== undefined && !(TEMPLATE_NAMES as readonly string[]).includes(template)) {
    throw new InitError(`"${template}" is not a template Slipway has; choose one of: ${TEMPLATE_NAMES.join(', ')} (or write the job's image, install and commands yourself)`);
  }
  if (template === undefined) {
    const found = detectLanguage(dir);
    if (found) { template = found.template; detected = found.evidence; }
  }
  if (template === undefined && opts.interactive) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      const answer = (await rl.question(`No build file found in ${dir} (package.json, pom.xml, build.gradle, go.mod, pyproject.toml, requirements.txt, composer.json, CMakeLists.txt).\nTemplate (${TEMPLATE_NAMES.join(', ')}): `).catch((e: Error) => {
        // Ctrl-C or Ctrl-D at the prompt: readline rejects with an AbortError ("Aborted with Ctrl+C").
        if (e.name === 'AbortError') throw new InitError(`no template chosen (${e.message.replace(/^Aborted with /, '')}); nothing written. Choose one with --template: ${TEMPLATE_NAMES.join(', ')}`);
        throw e;
      })).trim();
      if (!(TEMPLATE_NAMES as readonly string[]).includes(answer)) throw new InitError(`"${answer}" is not one of: ${TEMPLATE_NAMES.join(', ')}`);
      template = answer as TemplateName;
    } finally { rl.close(); }
  }
  if (template === undefined) {
    throw new InitError(`cannot tell the language of ${dir}: no package.json, pom.xml, build.gradle, go.mod, pyproject.toml, requirements*.txt, composer.json or CMakeLists.txt there; give --template, one of: ${TEMPLATE_NAMES.join(', ')}`);
  }
  if (existsSync(opts.file)) throw new InitError(`${opts.file} exists already; choose another with -o FILE`);
  const repository = opts.repository ?? originRepository(dir) ?? `acme/${path.basename(dir).toLowerCase().replace(/[^a-z0-9._-]/g, '-') || 'my-service'}`;
  // An image job needs a Dockerfile: without one, the pipeline tests only (add image and deploy jobs later).
  const image = existsSync(path.join(dir, 'Dockerfile'));
  try {
    writeFileSync(opts.file, starterPipeline(template, repository, opts.branch, { image }));
  } catch (e) {
    throw new InitError(`cannot write ${opts.file}: ${(e as Error).message}`);
  }
  return { file: opts.file, template, ...(detected ? { detected } : {}), repository, image };
}
