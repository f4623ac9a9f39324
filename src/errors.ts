/**
 * Errors the CLI maps to exit codes. A `UsageError` is the user's to fix (bad flag, unreadable file, unknown
 * template or campaign, bad configuration): exit 2 with the message. Anything else is exit 1.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function isUsageError(err: unknown): err is UsageError {
  return err instanceof UsageError;
}
