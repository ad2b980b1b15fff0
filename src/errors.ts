// The error base class and every error code, shared by all layers. A layer or
// feature declares its own errors on top of AppError (auth/errors.ts,
// tasks/errors.ts, db/errors.ts); src/http/errors.ts says which status each
// code answers with, and src/http/error-handler.ts turns them into JSON.

export const ErrorCode = {
  BAD_REQUEST: 'bad_request',
  INVALID_JSON: 'invalid_json',
  EMAIL_TAKEN: 'email_taken',
  INVALID_CREDENTIALS: 'invalid_credentials',
  TOKEN_MISSING: 'token_missing',
  TOKEN_INVALID: 'token_invalid',
  TOKEN_EXPIRED: 'token_expired',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  TASK_NOT_FOUND: 'task_not_found',
  LIST_NOT_FOUND: 'list_not_found',
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  TASK_LIMIT_REACHED: 'task_limit_reached',
  LIST_LIMIT: 'list_limit',
  DEFAULT_LIST: 'default_list',
  WEBHOOK_NOT_FOUND: 'webhook_not_found',
  WEBHOOK_LIMIT: 'webhook_limit',
  PRECONDITION_FAILED: 'precondition_failed',
  CURSOR_EXPIRED: 'cursor_expired',
  IDEMPOTENCY_KEY_REUSED: 'idempotency_key_reused',
  IDEMPOTENCY_KEY_IN_FLIGHT: 'idempotency_key_in_flight',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  VALIDATION_ERROR: 'validation_error',
  RATE_LIMITED: 'rate_limited',
  TOO_MANY_STREAMS: 'too_many_streams',
  AUTH_UNAVAILABLE: 'auth_unavailable',
  SERVER_BUSY: 'server_busy',
  DATABASE_UNAVAILABLE: 'database_unavailable',
  DATABASE_TIMEOUT: 'database_timeout',
  DATABASE_BUSY: 'database_busy',
  INTERNAL_ERROR: 'internal_error',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** An error the caller is told about: its code and a human-readable detail (never a secret or SQL). */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    detail: string,
    /** The caller may retry after this many seconds (a 503 or 429). */
    readonly retryAfterSeconds?: number,
  ) {
    super(detail)
  }
}

export type FieldError = { field: string; message: string }

export class ValidationFailed extends AppError {
  constructor(readonly errors: FieldError[]) {
    super(ErrorCode.VALIDATION_ERROR, errors.map((e) => `${e.field}: ${e.message}`).join('; '))
  }
}

/** The resource exists but belongs to another user. */
export class Forbidden extends AppError {
  constructor(detail: string) {
    super(ErrorCode.FORBIDDEN, detail)
  }
}

/** If-Match named a version the resource no longer has. */
export class PreconditionFailed extends AppError {
  constructor(resource: string) {
    super(ErrorCode.PRECONDITION_FAILED, `The ${resource} has changed since the ETag in If-Match was issued`)
  }
}
