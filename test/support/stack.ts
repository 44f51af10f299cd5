/**
 * Mailboxes created in the test run's MESH sandbox. Test files run in parallel, so each file owns its
 * own mailboxes (by convention, noted beside each group) and never reads another file's.
 */
export const TEST_MAILBOXES = [
  // test/foundation.test.ts
  'X26FND001',
  // MESH client tests (test/mesh/…)
  'X26MSH001', 'X26MSH002', 'X26MSH003', 'X26MSH004', 'X26MSH005', 'X26MSH006', 'X26MSH007', 'X26MSH008',
  // pipeline tests: supplier and Authority mailboxes per test file
  'X26SUP001', 'X26NHS001', 'X26SUP002', 'X26NHS002', 'X26SUP003', 'X26NHS003', 'X26SUP004', 'X26NHS004',
  // HTTP API / operations tests
  'X26SUP005', 'X26NHS005', 'X26SUP006', 'X26NHS006',
  // test/fuzz.test.ts
  'X26SUP007', 'X26NHS007',
  // operators tests: X26OPS001…X26OPS004 (test/browser, test/operators, test/security)
  'X26OPS001', 'X26OPS002', 'X26OPS003', 'X26OPS004',
  // test/readme.test.ts
  'X26SUP016', 'X26NHS016',
  // test/pipeline.reporting.test.ts and test/days.test.ts (issue 16)
  'X26SUP031', 'X26NHS031',
  // test/registrations-api/delivery.test.ts, delivery.faults.test.ts (issue 12)
  'X26SUP041', 'X26NHS041', 'X26SUP042', 'X26NHS042', 'X26SUP043', 'X26NHS043',
  // test/registrations-api/e2e.test.ts (issue 12)
  'X26SUP051', 'X26NHS051',
  // test/outcomes.test.ts (issue 15)
  'X26SUP015', 'X26NHS015',
  // test/browser/console.test.ts (issue 15): one pipeline that delivers, one whose Authority is missing
  'X26SUP061', 'X26NHS061', 'X26SUP062',
  // test/month.test.ts (issue 14): the simulated month
  'X26SUP071', 'X26NHS071',
  // test/client/record-during-run-end.test.ts, record-unprocessed-update.test.ts
  'X26SUP081', 'X26NHS081', 'X26SUP082', 'X26NHS082',
  // test/pipeline.hand-over.test.ts (issue 13)
  'X26SUP091', 'X26NHS091',
];

/** Password of every sandbox mailbox. */
export const SANDBOX_PASSWORD = 'password';
