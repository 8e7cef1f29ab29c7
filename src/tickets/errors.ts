/**
 * What can go wrong when asking the tickets service, in domain terms. The API turns these into problem+json,
 * the inbox into pages, the CLI into messages and exit codes.
 */
export class TicketServiceError extends Error {}

/** No such ticket, or one the reader may not see (reported the same way: no existence leak). */
export class TicketNotFoundError extends TicketServiceError {
  constructor(readonly ticketId: string) {
    super(`No ticket with id "${ticketId}".`);
    this.name = 'TicketNotFoundError';
  }
}

/** A dependency needed for this request did not answer; the request can be retried shortly. */
export class TicketServiceUnavailableError extends TicketServiceError {
  constructor(
    /** `worker`: Temporal answered, but no worker took the request in time. */
    readonly dependency: 'Temporal' | 'worker',
    message: string,
  ) {
    super(message);
    this.name = 'TicketServiceUnavailableError';
  }
}

/** A list cursor this service did not issue. */
export class InvalidCursorError extends TicketServiceError {
  constructor() {
    super('The cursor is not one this service issued.');
    this.name = 'InvalidCursorError';
  }
}
