/**
 * `npm run bench [-- NAME...]`: runs every benchmark module in bench/ (each exports `run()`),
 * or only those whose file name contains one of the given words. Benchmarks print figures; they
 * never fail on timing. A benchmark whose prerequisites are missing says so and is passed over.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts') && !f.startsWith('support'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  const mod = (await import(join(here, file))) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') {
    console.log(`(${file} exports no run(); passed over)`);
    continue;
  }
  try {
    await mod.run();
  } catch (error) {
    failed++;
    console.log(`benchmark ${file} could not run: ${(error as Error).message}`);
  }
}
console.log(`\n${files.length - failed} benchmarks ran, ${failed} could not run.`);
