#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping); `npx --no campaign` puts the pinned
// Node 24 from node_modules/.bin first on PATH.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`campaign: needs Node 24 or newer (this is ${process.version}); run it through npx (npx --no campaign ...) after npm ci\n`);
  process.exit(2);
}
// Heap flags only work on the command line: the process replaces itself once (same pid, so signals and
// exit codes are untouched), with glibc's malloc tunables in its environment. See src/heap.ts for why
// and what was measured.
if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
  const { HEAP_FLAGS, execEnv } = await import('../src/heap.ts');
  process.execve(process.execPath, [process.execPath, ...HEAP_FLAGS, ...process.execArgv, ...process.argv.slice(1)], execEnv(process.env));
}
// Node's on-disk compile cache (stable API, Node >= 22.1): the CLI loads ~100 TypeScript modules, and
// stripping and compiling them was most of a command's start-up: `campaign template list` 1.00 s without,
// 0.65 s with a warm cache (/usr/bin/time, 2-core box). It goes where NODE_COMPILE_CACHE says, else to
// the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off; a cache it cannot write is skipped.
const { enableCompileCache } = await import('node:module');
enableCompileCache();
const { main } = await import('../src/cli/main.ts');
await main();
