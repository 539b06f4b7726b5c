// Errors of the node agent. Every message names the resource or field it is
// about and, where the caller can do something, the fix.

export class AgentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A request to the health API the agent refuses; `statusCode` is the HTTP answer (4xx). */
export class ApiRequestError extends AgentError {
  constructor(
    readonly statusCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A query parameter of a health check cannot be read (for example `?lag=fast`). */
export class InvalidQueryParameterError extends ApiRequestError {
  constructor(
    readonly parameter: string,
    readonly value: string,
    expected: string,
  ) {
    super(400, `query parameter ${parameter}=${JSON.stringify(value)}: ${expected}`);
  }
}

/** The body of a mutating request is not JSON or a field of it is invalid. */
export class InvalidRequestBodyError extends ApiRequestError {
  constructor(
    readonly field: string | null,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(400, field === null ? `request body: ${problem}` : `request body field "${field}": ${problem}`, options);
  }
}

/** The body of a mutating request is larger than the API accepts. */
export class RequestBodyTooLargeError extends ApiRequestError {
  constructor(readonly limitBytes: number) {
    super(413, `request body larger than ${limitBytes} bytes: send only the JSON fields the endpoint takes`);
  }
}

/** The health API could not bind its address. */
export class HealthApiListenError extends AgentError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `health API cannot listen on ${host}:${port} (${why}). ` +
        `Fix: free the port or set restapi.listen to an address and port this host owns`,
      { cause },
    );
  }
}

/** The fence keeper cannot be started or does not acknowledge a deadline: no promotion may rely on it. */
export class FenceKeeperError extends AgentError {}

/** The arbiter function could not be invoked out of schedule; the schedule still runs it. */
export class ArbiterWakeError extends AgentError {}
