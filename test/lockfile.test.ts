/**
 * The committed lockfile must be complete for every platform: npm records the optional native
 * binaries of a package (e.g. @swc/core-darwin-arm64) only when the install that wrote the lockfile
 * saw them all. A lockfile written from a partial install is rewritten by the next `npm install` on a
 * fresh clone, so what was installed differs from what was reviewed (issue 16, item 13).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

interface LockPackage {
  optionalDependencies?: Record<string, string>;
  optional?: boolean;
}

const lock = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package-lock.json'), 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
};

/** Where npm would resolve `name` from the package installed at `from` (node_modules lookup upwards). */
function resolves(from: string, name: string): boolean {
  let dir = from;
  for (;;) {
    if (lock.packages[`${dir ? `${dir}/` : ''}node_modules/${name}`]) return true;
    if (!dir) return false;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at < 0 ? '' : dir.slice(0, at);
  }
}

describe('package-lock.json', () => {
  it('is a v3 lockfile', () => {
    expect(lock.lockfileVersion).toBe(3);
  });

  it("lists every optional dependency of every package, whatever the platform", () => {
    const missing: string[] = [];
    for (const [at, pkg] of Object.entries(lock.packages)) {
      for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
        if (!resolves(at, name)) missing.push(`${at || '(root)'} → ${name}`);
      }
    }
    expect(missing, 'optional dependencies missing from the lockfile (regenerate it with a full npm install)').toEqual([]);
  });
});
