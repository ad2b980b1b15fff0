import { withHeaders } from '@elysiajs/openapi'
import { t } from 'elysia'
import { AppError, ErrorCode } from '../errors'

/** The body of every error response, for the OpenAPI document. */
export const ErrorBody = t.Object({
  detail: t.String(),
  code: t.String(),
  errors: t.Optional(t.Array(t.Object({ field: t.String(), message: t.String() }))),
})

const retryAfter = { 'retry-after': t.String({ description: 'Seconds to wait before retrying' }) }

/** The error body, with what its status means as the document's description. */
const errorMeaning = (description: string) => t.Object(ErrorBody.properties, { description })

// Every error response a route can give, with the headers that come with it,
// for the OpenAPI document; routes pick theirs with errorsFor().
const errorResponses = {
  400: errorMeaning('Malformed JSON, or (sign-up) an email already taken'),
  401: withHeaders(errorMeaning('Token missing, invalid or expired (sign-in: wrong email or password)'), {
    'www-authenticate': t.String({ description: 'Bearer challenge' }),
  }),
  403: errorMeaning("The resource, or the user id in the path, is not the caller's"),
  404: errorMeaning('No resource has this id'),
  409: withHeaders(
    errorMeaning(
      'A limit reached, a change the resource refuses, or the first request with this Idempotency-Key still running (Retry-After)',
    ),
    retryAfter,
  ),
  410: errorMeaning('The sync cursor is older than the deletions kept: sync again without one'),
  412: errorMeaning('If-Match does not name the current ETag: the resource changed since'),
  413: errorMeaning('The body is too large'),
  415: errorMeaning('The body is not JSON'),
  422: errorMeaning('A field or parameter is invalid: `errors` names each one'),
  429: withHeaders(errorMeaning('Too many attempts from this address'), retryAfter),
  500: errorMeaning('An unexpected error'),
  503: withHeaders(errorMeaning('The database, the token key set or the password hashing cannot serve the request now'), retryAfter),
}

export function errorsFor<const S extends keyof typeof errorResponses>(...statuses: S[]): Pick<typeof errorResponses, S> {
  return Object.fromEntries(statuses.map((status) => [status, errorResponses[status]])) as Pick<typeof errorResponses, S>
}

/** What every route of a user's resource (tasks, lists) can answer; routes with a body add BODY_ERRORS. */
export const RESOURCE_ERRORS = errorsFor(401, 403, 404, 412, 422, 500, 503)
/** What reading a JSON body adds (parseJsonBody): malformed, too large, not JSON. */
export const BODY_ERRORS = errorsFor(400, 413, 415)
/** What Idempotency-Key adds to a write: 409 while the first request with the key runs, 422 for a key malformed or reused. */
export const IDEMPOTENT_WRITE_ERRORS = errorsFor(409, 422)

// The status each code answers with: a code without one fails to compile.
export const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  email_taken: 400,
  invalid_credentials: 401,
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  forbidden: 403,
  not_found: 404,
  task_not_found: 404,
  list_not_found: 404,
  method_not_allowed: 405,
  task_limit_reached: 409,
  list_limit: 409,
  default_list: 409,
  webhook_not_found: 404,
  webhook_limit: 409,
  precondition_failed: 412,
  cursor_expired: 410,
  idempotency_key_reused: 422,
  idempotency_key_in_flight: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_error: 422,
  rate_limited: 429,
  too_many_streams: 429,
  auth_unavailable: 503,
  server_busy: 503,
  database_unavailable: 503,
  database_timeout: 503,
  database_busy: 503,
  internal_error: 500,
}

/**
 * The headers an error's answer carries: Retry-After, and the Bearer challenge
 * of RFC 6750 on a 401, with `challengeParams` (auth-params such as RFC 9728's
 * resource_metadata) when the request's route adds some.
 */
export function headersOf(error: AppError, challengeParams?: string): Record<string, string> {
  const headers: Record<string, string> = error instanceof HttpOnlyError ? { ...error.headers } : {}
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds)
  if (STATUS_OF[error.code] === 401) {
    const challenge =
      error.code === ErrorCode.TOKEN_INVALID || error.code === ErrorCode.TOKEN_EXPIRED
        ? `Bearer realm="todo-api", error="invalid_token", error_description="${error.message.replace(/["\\]/g, '\\$&')}"`
        : 'Bearer realm="todo-api"'
    headers['www-authenticate'] = challengeParams ? `${challenge}, ${challengeParams}` : challenge
  }
  return headers
}

/** Errors about the HTTP request itself, which no feature owns. */
class HttpOnlyError extends AppError {
  constructor(
    code: ErrorCode,
    detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, detail)
  }
}

export class BadRequest extends HttpOnlyError {
  constructor(detail: string, code: ErrorCode = ErrorCode.BAD_REQUEST) {
    super(code, detail)
  }
}

export class RouteNotFound extends HttpOnlyError {
  constructor(method: string, path: string) {
    super(ErrorCode.NOT_FOUND, `No route for ${method} ${path}`)
  }
}

export class MethodNotAllowed extends HttpOnlyError {
  constructor(method: string, allowed: string[]) {
    super(ErrorCode.METHOD_NOT_ALLOWED, `Method ${method} is not allowed here; use ${allowed.join(', ')}`, { allow: allowed.join(', ') })
  }
}

export class PayloadTooLarge extends HttpOnlyError {
  constructor(limit: number) {
    super(ErrorCode.PAYLOAD_TOO_LARGE, `Request body is larger than ${limit / 1024} KiB`)
  }
}

export class UnsupportedMediaType extends HttpOnlyError {
  constructor(contentType: string) {
    super(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `Content-Type ${contentType ? `"${contentType.slice(0, 100)}"` : 'missing'}: send application/json`,
    )
  }
}
