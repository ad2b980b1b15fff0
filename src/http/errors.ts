import { withHeaders } from '@elysiajs/openapi'
import { t } from 'elysia'

// Every error the service can answer with, as a class with a status and a
// code. src/http/error-handler.ts turns them, and the framework's own errors,
// into the contract's JSON shape in one place.

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
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  TASK_LIMIT_REACHED: 'task_limit_reached',
  PRECONDITION_FAILED: 'precondition_failed',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  VALIDATION_ERROR: 'validation_error',
  RATE_LIMITED: 'rate_limited',
  AUTH_UNAVAILABLE: 'auth_unavailable',
  SERVER_BUSY: 'server_busy',
  DATABASE_UNAVAILABLE: 'database_unavailable',
  DATABASE_TIMEOUT: 'database_timeout',
  DATABASE_BUSY: 'database_busy',
  INTERNAL_ERROR: 'internal_error',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** The body of every error response, for the OpenAPI document. */
export const ErrorBody = t.Object({
  detail: t.String(),
  code: t.String(),
  errors: t.Optional(t.Array(t.Object({ field: t.String(), message: t.String() }))),
})

const retryAfter = { 'retry-after': t.String({ description: 'Seconds to wait before retrying' }) }

// Every error response a route can give, with the headers that come with it,
// for the OpenAPI document; routes pick theirs with errorsFor().
const errorResponses = {
  400: ErrorBody,
  401: withHeaders(ErrorBody, { 'www-authenticate': t.String({ description: 'Bearer challenge' }) }),
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  412: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  422: ErrorBody,
  429: withHeaders(ErrorBody, retryAfter),
  500: ErrorBody,
  503: withHeaders(ErrorBody, retryAfter),
}

export function errorsFor<const S extends keyof typeof errorResponses>(...statuses: S[]): Pick<typeof errorResponses, S> {
  return Object.fromEntries(statuses.map((status) => [status, errorResponses[status]])) as Pick<typeof errorResponses, S>
}

export type FieldError = { field: string; message: string }

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail)
  }
}

export class BadRequest extends HttpError {
  constructor(detail: string, code: ErrorCode = ErrorCode.BAD_REQUEST) {
    super(400, code, detail)
  }
}

export type TokenProblem = 'missing' | 'malformed' | 'expired' | 'signature' | 'claims'

/** 401 with a WWW-Authenticate challenge (RFC 6750); the detail never echoes the token. */
export class Unauthenticated extends HttpError {
  constructor(problem: TokenProblem, detail: string) {
    const code = problem === 'missing' ? ErrorCode.TOKEN_MISSING : problem === 'expired' ? ErrorCode.TOKEN_EXPIRED : ErrorCode.TOKEN_INVALID
    const challenge =
      problem === 'missing'
        ? 'Bearer realm="todo-api"'
        : `Bearer realm="todo-api", error="invalid_token", error_description="${detail.replace(/["\\]/g, '\\$&')}"`
    super(401, code, detail, { 'www-authenticate': challenge })
  }
}

export class EmailTaken extends HttpError {
  constructor() {
    super(400, ErrorCode.EMAIL_TAKEN, 'Email already registered')
  }
}

/** One answer for an unknown email and a wrong password: nothing tells them apart. */
export class InvalidCredentials extends HttpError {
  constructor() {
    super(401, ErrorCode.INVALID_CREDENTIALS, 'Invalid email or password', { 'www-authenticate': 'Bearer realm="todo-api"' })
  }
}

export class Forbidden extends HttpError {
  constructor(detail: string) {
    super(403, ErrorCode.FORBIDDEN, detail)
  }
}

export class TaskNotFound extends HttpError {
  constructor() {
    super(404, ErrorCode.TASK_NOT_FOUND, 'Task not found')
  }
}

export class RouteNotFound extends HttpError {
  constructor(method: string, path: string) {
    super(404, ErrorCode.NOT_FOUND, `No route for ${method} ${path}`)
  }
}

export class MethodNotAllowed extends HttpError {
  constructor(method: string, allowed: string[]) {
    super(405, ErrorCode.METHOD_NOT_ALLOWED, `Method ${method} is not allowed here; use ${allowed.join(', ')}`, {
      allow: allowed.join(', '),
    })
  }
}

export class TaskLimitReached extends HttpError {
  constructor(limit: number) {
    super(409, ErrorCode.TASK_LIMIT_REACHED, `Task limit reached: a user holds at most ${limit} tasks`)
  }
}

export class PreconditionFailed extends HttpError {
  constructor() {
    super(412, ErrorCode.PRECONDITION_FAILED, 'The task has changed since the ETag in If-Match was issued')
  }
}

export class PayloadTooLarge extends HttpError {
  constructor(limit: number) {
    super(413, ErrorCode.PAYLOAD_TOO_LARGE, `Request body is larger than ${limit / 1024} KiB`)
  }
}

export class UnsupportedMediaType extends HttpError {
  constructor(contentType: string) {
    super(
      415,
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `Content-Type ${contentType ? `"${contentType.slice(0, 100)}"` : 'missing'}: send application/json`,
    )
  }
}

export class ValidationFailed extends HttpError {
  constructor(readonly errors: FieldError[]) {
    super(422, ErrorCode.VALIDATION_ERROR, errors.map((e) => `${e.field}: ${e.message}`).join('; '))
  }
}

export class RateLimited extends HttpError {
  constructor(retryAfterSeconds: number) {
    super(429, ErrorCode.RATE_LIMITED, `Too many attempts; try again in ${retryAfterSeconds} s`, {
      'retry-after': String(retryAfterSeconds),
    })
  }
}

/** Better Auth's key set could not be fetched: the token may be valid, we cannot tell. */
export class AuthUnavailable extends HttpError {
  constructor() {
    super(503, ErrorCode.AUTH_UNAVAILABLE, 'The token key set cannot be reached; try again shortly', { 'retry-after': '5' })
  }
}

/** Bounded work (password hashing) is full: shed load fast rather than queue without end. */
export class ServerBusy extends HttpError {
  constructor() {
    super(503, ErrorCode.SERVER_BUSY, 'The server is busy; try again shortly', { 'retry-after': '1' })
  }
}

const DATABASE_PROBLEMS = {
  down: [ErrorCode.DATABASE_UNAVAILABLE, 'The database is unavailable; try again shortly'],
  timeout: [ErrorCode.DATABASE_TIMEOUT, 'The database took too long to answer; try again'],
  busy: [ErrorCode.DATABASE_BUSY, 'Every database connection is busy; try again shortly'],
} as const

/** The database cannot serve this request now: the client may retry shortly. */
export class DatabaseUnavailable extends HttpError {
  constructor(problem: keyof typeof DATABASE_PROBLEMS = 'down') {
    const [code, detail] = DATABASE_PROBLEMS[problem]
    super(503, code, detail, { 'retry-after': '2' })
  }
}
