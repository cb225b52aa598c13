export function lockedPackages(root: string): number | undefined;
export function installedPackages(root: string): number;
export function installDependencies(opts: { root: string; command?: string; args?: string[]; tickMs?: number; print?: (line: string) => void }): Promise<number>;
