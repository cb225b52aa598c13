// Runs the given test files in this one process (node's test runner collects every
// file's tests), instead of one Node process per file: starting Node and tsx costs
// about a second a file, more than most unit files take to run. `scripts/test.mjs`
// sends here the unit files that share a process safely: those that do not patch
// AWS SDK clients with aws-sdk-client-mock (which stubs a client class's prototype
// for the whole process); the others keep a process of their own.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

for (const file of process.argv.slice(2)) await import(pathToFileURL(path.resolve(file)).href);
