// The worker's workflowsPath: every workflow type the task queue serves.
export { changeDeviceUser } from './changeDeviceUser';
export { distributeDevice } from './distributeDevice';
export { inactivateDevice } from './inactivateDevice';
export { retentionErasure } from './retention';
export { plannedStatusSummaryMail } from './summaryReport';
