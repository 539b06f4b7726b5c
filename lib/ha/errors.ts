// Errors of the decision core. The rules themselves never throw: an
// ineligible member, a lost lease or a stale request is a reason string.
// Only input that cannot come from a well-behaved shell is refused.

export class HaError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** decide() was called with a value no store or clock produces. */
export class InvalidArbiterInputError extends HaError {
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid arbiter input, ${field}: ${message}`, options);
  }
}
