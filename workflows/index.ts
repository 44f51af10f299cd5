// Every workflow type the worker runs (bundled from this file).
export { transferWorkflow } from './transfer';
export { reportingWorkflow } from './reporting';
export { submissionWorkflow } from './submission';
export { inboxWorkflow } from './inbox';
