/**
 * One benchmark figure, and the table every bench prints. `baseline` is what the figure is compared
 * with (e.g. plain curl doing the same work) and `ratio` = value / baseline.
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  note?: string;
}

/** A fixed-width text table of results, one line each. */
export function formatResults(results: BenchResult[]): string {
  const rows = [
    ['benchmark', 'value', 'unit', 'baseline', 'ratio', 'note'],
    ...results.map((r) => [
      r.name,
      fmt(r.value),
      r.unit,
      r.baseline === undefined ? '' : fmt(r.baseline),
      r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
      r.note ?? '',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === 1 || i === 3 || i === 4 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}
