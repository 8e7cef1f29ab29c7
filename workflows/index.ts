// Entry point of the workflow bundle: everything exported here runs inside Temporal's deterministic sandbox.
export { ticketWorkflow } from './ticket';
export { kbIngestionWorkflow } from './kb-ingestion';
