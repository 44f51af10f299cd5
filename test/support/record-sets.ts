// Splitting MI files back into record sets, as the Authority's loader sees them.

/** Record sets of a chained file, keyed by ODS + date (from the FR record). */
export function recordSetsOf(content: string): Map<string, string> {
  const sets = new Map<string, string>();
  let current: string[] = [];
  for (const line of content.split('\r\n')) {
    if (!line) continue;
    current.push(line);
    if (line.startsWith('FR,')) {
      const [, , , ods, date] = line.split(',');
      sets.set(`${ods} ${date}`, current.join('\r\n') + '\r\n');
      current = [];
    }
  }
  return sets;
}
