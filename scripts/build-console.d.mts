export declare const CONSOLE_DIST: string;
export interface ConsoleBuild {
  outDir: string;
  /** Paths (relative to outDir) of what the first page load fetches: main.js and its static imports. */
  firstLoadFiles: string[];
  firstLoadJsBytes: number;
  firstLoadJsGzipBytes: number;
  jsFiles: number;
}
export declare function buildConsole(outDir?: string): Promise<ConsoleBuild>;
export declare function buildConsoleSync(outDir?: string): ConsoleBuild;
