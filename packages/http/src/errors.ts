/** A field-level validation message, as shown to the caller in `errors`. */
export interface FieldError {
  field: string;
  message: string;
}

/** The one error family of the project: a stable `code`, an HTTP status and a human title. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    /** Response headers that belong to the answer, e.g. Retry-After or WWW-Authenticate. */
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
    this.name = 'AppError';
  }

  static validation(errors: FieldError[], detail = 'The request has invalid fields.'): AppError {
    return new AppError(400, 'VALIDATION_FAILED', 'Validation failed', detail, errors);
  }

  static notFound(what: string): AppError {
    return new AppError(404, 'NOT_FOUND', 'Not found', `${what} was not found.`);
  }

  /** A dependency is down for a moment: the caller may retry the same request after Retry-After seconds. */
  static unavailable(detail: string, retryAfterSeconds = 1): AppError {
    return new AppError(503, 'SERVICE_UNAVAILABLE', 'Service unavailable', detail, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
}
