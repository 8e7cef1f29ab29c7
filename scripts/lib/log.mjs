/** Small, dependency-free logging for the orchestration scripts: one prefix per line, colour only on a TTY. */

const useColour = process.stderr.isTTY && !process.env.NO_COLOR;
const paint = (code, text) => (useColour ? `\u001b[${code}m${text}\u001b[0m` : text);

export function createLogger(name) {
  const prefix = `[${name}]`;
  return {
    info: (message) => console.error(`${paint('36', prefix)} ${message}`),
    step: (message) => console.error(`${paint('36', prefix)} ${paint('1', message)}`),
    ok: (message) => console.error(`${paint('32', prefix)} ${message}`),
    warn: (message) => console.error(`${paint('33', `${prefix} WARNING:`)} ${message}`),
    error: (message) => console.error(`${paint('31', `${prefix} ERROR:`)} ${message}`),
  };
}

/** An error whose message is already meant for the user: printed without a stack trace. */
export class UserFacingError extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.name = 'UserFacingError';
    this.exitCode = exitCode;
  }
}
