/** Helpers for the operators tests (metrics, encryption): their practice, pipeline and Prometheus reading. */
import { syntheticPractice } from '../../demo/traffic';
import { startPipeline, type TestPipeline } from './pipeline';

export const PRACTICE = syntheticPractice('E83001', '200000000911');

export type OperatorsPipeline = TestPipeline;

/** The shared test pipeline with the operators tests' default practice. */
export async function startOperatorsPipeline(options: {
  supplierMailbox: string;
  authorityMailbox: string;
  practices?: unknown[];
  temporalAddress?: string;
  env?: Record<string, string>;
}): Promise<OperatorsPipeline> {
  return await startPipeline({ ...options, practices: options.practices ?? [PRACTICE] });
}

/** Prometheus text → value of one sample (labels matched as a subset), summed over matching series. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[l[1]!] = l[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      total += Number(m[4]);
      found = true;
    }
  }
  return found ? total : 0;
}
