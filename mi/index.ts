/**
 * The workflow-safe MI core: event contract and validation, RR/SR rows, record sets, and a transfer's
 * stage, outcome and deadlines. Nothing reachable from here imports a node module, csv-stringify or
 * the file system, so workflows can import it (a test walks the import graph to keep it so).
 * Transfer outcomes as the Authority judges them (outcomes.ts) are here too.
 * Rendering (csv.ts), checking (check.ts), event ids (event-id.ts) and loading practice files are
 * imported directly where they run.
 */
export * from './events';
export * from './records';
export * from './record-set';
export * from './transfer';
export type { PracticeSettings } from './practices';
export * from './outcomes';
