/** A page the inbox refuses or cannot show, with the status and the sentence the agent sees. */
export class PageError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'PageError';
  }
}
