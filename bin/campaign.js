#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping); `npx --no campaign` puts the pinned
// Node 24 from node_modules/.bin first on PATH.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`campaign: needs Node 24 or newer (this is ${process.version}); run it through npx (npx --no campaign ...) after npm ci\n`);
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
await main();
