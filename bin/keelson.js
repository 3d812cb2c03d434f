#!/usr/bin/env node
// keelson's command line. Node 24 runs the TypeScript sources directly (type stripping).
import { enableCompileCache } from 'node:module';

// Cache compiled (type-stripped) modules on disk: a warm start skips stripping every .ts file.
enableCompileCache?.();
const { main } = await import('../reconciler/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
