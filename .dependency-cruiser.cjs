/**
 * The design as a check (npm test runs it): the domain core stands alone; workflows see only the core,
 * the messages of the concerns and their own classes; everyone else talks to a workflow through its
 * messages, never through its file; and nothing imports in a circle.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle hides which module owns what.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-core-stands-alone',
      severity: 'error',
      comment: 'mi/ is the domain core: rows, outcomes, stages, deadlines. It imports nothing of Temporal and no other folder.',
      from: { path: '^mi/' },
      to: { pathNot: ['^mi/', '^node_modules/(zod|csv-stringify)/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'messages-are-declarations',
      severity: 'error',
      comment: 'messages/ holds each concern\'s public API (define* messages, their types, activity interfaces): only the core and Temporal\'s message definitions.',
      from: { path: '^messages/' },
      to: { pathNot: ['^mi/', '^messages/', '^node_modules/@temporalio/(workflow|common)/'] },
    },
    {
      name: 'workflows-see-core-and-messages',
      severity: 'error',
      comment: 'Workflows are deterministic and thin: the core, the messages, their own classes and Temporal\'s workflow API; never activities, I/O or configuration.',
      from: { path: '^workflows/' },
      to: { pathNot: ['^mi/', '^messages/', '^workflows/', '^node_modules/@temporalio/(workflow|common)/'] },
    },
    {
      name: 'workflow-files-are-private',
      severity: 'error',
      comment: 'Outside workflows/ (and tests of its classes), a workflow is reached through messages/ and its ids, never its file.',
      from: { pathNot: ['^workflows/', '^test/'] },
      to: { path: '^workflows/', pathNot: ['^workflows/(ids|search-attributes)\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^node_modules/', '^\\.tools/', '^\\.data/', '^test/\\.artifacts/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
