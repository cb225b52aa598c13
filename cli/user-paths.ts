/**
 * Paths as the user typed them. `npm run slipway -- ...` runs the CLI in Slipway's
 * own folder, whatever folder the user was in; npm keeps that folder in INIT_CWD.
 * So a relative path means the same with `npm run slipway` as with `slipway`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Slipway's own folder (the one `npm start` keeps `.slipway/` in). */
export const SLIPWAY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The folder the user ran the command from. */
export function userDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  // Only npm's own `npm run slipway`: an INIT_CWD inherited from an unrelated npm script is not the user's folder.
  return env.npm_lifecycle_event === 'slipway' && env.INIT_CWD ? env.INIT_CWD : cwd;
}

/** A path the user gave, made absolute against their folder. */
export function userPath(file: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(userDir(env, cwd), file);
}

/**
 * The running local mode's dev.json: `.slipway/dev.json` here, else in SLIPWAY_DATA_DIR,
 * else in Slipway's own folder (so the CLI finds the local mode from any folder).
 */
export function localStateFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    path.join(process.cwd(), '.slipway', 'dev.json'),
    ...(env.SLIPWAY_DATA_DIR ? [path.join(path.resolve(env.SLIPWAY_DATA_DIR), 'dev.json')] : []),
    path.join(SLIPWAY_ROOT, '.slipway', 'dev.json'),
  ];
  return candidates.find((f) => existsSync(f));
}
