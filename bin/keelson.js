#!/usr/bin/env node
// keelson's command line. Node 24 runs the TypeScript sources directly (type stripping).
import { main } from '../reconciler/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
