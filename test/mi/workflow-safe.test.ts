/**
 * The MI core that workflows import (mi/index.ts) must stay sandbox-safe: no node modules, no
 * csv-stringify, no file system, none of the rendering or id-hashing modules. Checked twice: by walking
 * the import graph (fast, precise message), and by bundling a workflow with Temporal's own bundler,
 * which refuses modules the sandbox cannot have.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';

const MI = path.join(__dirname, '..', '..', 'mi');

/** Runtime (non-type) imports and re-exports of a TypeScript file. */
function runtimeImports(file: string): string[] {
  const source = fs.readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?[^'";]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) {
    if (m[2]) continue; // import type / export type: erased
    specifiers.push((m[3] ?? m[4])!);
  }
  return specifiers;
}

function reachable(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (graph.has(file)) continue;
    const imports = runtimeImports(file);
    graph.set(file, imports);
    for (const spec of imports) if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), `${spec}.ts`));
  }
  return graph;
}

describe('the workflow-safe MI core', () => {
  it('imports nothing but its own pure modules', () => {
    const graph = reachable(path.join(MI, 'index.ts'));
    const offending: string[] = [];
    for (const [file, imports] of graph) {
      for (const spec of imports) {
        const name = path.basename(spec);
        if (!spec.startsWith('.') || ['csv', 'check', 'event-id', 'practices'].includes(name)) offending.push(`${path.relative(MI, file)} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
    expect([...graph.keys()].map((f) => path.basename(f)).sort()).toEqual(['events.ts', 'fields.ts', 'formats.ts', 'index.ts', 'outcomes.ts', 'record-set.ts', 'records.ts', 'transfer.ts']);
  });

  it("bundles with Temporal's workflow bundler", async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(__dirname, 'fixtures', 'mi-workflow.ts'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
    });
    // Booleans, not toContain: a failure must not print a megabyte of bundle.
    expect(code.includes('miCoreWorkflow')).toBe(true);
    expect(['node_modules/csv-stringify', './mi/csv.ts', './mi/event-id.ts'].filter((m) => code.includes(m))).toEqual([]);
  }, 60_000);
});
