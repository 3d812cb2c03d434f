import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The folder of an installed package (also for packages whose `exports` hide `package.json`). */
export function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!dir.endsWith(`/node_modules/${name}`)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot locate the folder of package ${name}`);
    dir = up;
  }
  if (!existsSync(join(dir, 'package.json'))) throw new Error(`cannot locate the folder of package ${name}`);
  return dir;
}

/** A file inside an installed package. */
export function packageFile(name: string, relative: string): string {
  return join(packageDir(name), relative);
}
