import { Elysia, ValidationError } from 'elysia'
import { toDatabaseUnavailable } from '../db/errors'
import { AppError, ErrorCode, ValidationFailed } from '../errors'
import { answered } from './answers'
import { BadRequest, headersOf, MethodNotAllowed, RouteNotFound, STATUS_OF } from './errors'
import type { Logger } from './logger'
import { type AccessLog, requestIdOf } from './request-log'
import { fieldErrors } from './validation'

/** The driver's own error under drizzle's wrapper (whose message is the whole query and its parameters). */
function rootCause(error: unknown): string {
  let current = error
  for (let depth = 0; current instanceof Error && current.cause instanceof Error && depth < 5; depth++) current = current.cause
  const code = (current as { code?: unknown })?.code
  return `${typeof code === 'string' ? `${code}: ` : ''}${current instanceof Error ? current.message : String(current)}`
}

/** An AppError thrown below a wrapper (drizzle wraps what the database layer throws). */
function wrappedAppError(error: unknown): AppError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++)
    if (current instanceof AppError) return current
  return undefined
}

/** What the caller may be told of an error thrown by the data layer: an AppError, or undefined for an unexpected one (a 500). */
export function appErrorOf(error: unknown): AppError | undefined {
  return wrappedAppError(error) ?? toDatabaseUnavailable(error)
}

function toHttpError(code: unknown, error: unknown, request: Request, path: string, allowedMethods: (path: string) => string[]) {
  const known = wrappedAppError(error)
  if (known) return known
  if (error instanceof ValidationError) return new ValidationFailed(fieldErrors(error))
  if (code === 'PARSE') return new BadRequest('Request body is not valid JSON', ErrorCode.INVALID_JSON)
  if (code === 'NOT_FOUND') {
    const allowed = allowedMethods(path)
    return allowed.length ? new MethodNotAllowed(request.method, allowed) : new RouteNotFound(request.method, path)
  }
  return toDatabaseUnavailable(error)
}

/**
 * What the caller is told of an error: its status and the contract's body,
 * `{detail, code}` (422 adds `errors`), never a stack or SQL. A 5xx is logged
 * with its cause; an error no one expected in full, and answered with a
 * generic 500. Also for errors that do not become an HTTP error (an MCP
 * tool's failed call).
 */
export function errorAnswer(known: AppError | undefined, error: unknown, logger: Logger, requestId: string | undefined) {
  if (!known) {
    logger.error('unhandled error', { request_id: requestId, error: error instanceof Error ? error.stack : String(error) })
    return { status: 500, body: { detail: 'Internal server error', code: ErrorCode.INTERNAL_ERROR } }
  }
  const status = STATUS_OF[known.code]
  if (status >= 500) logger.warn(known.message, { request_id: requestId, cause: rootCause(error) })
  const body =
    known instanceof ValidationFailed
      ? { detail: known.message, code: known.code, errors: known.errors }
      : { detail: known.message, code: known.code }
  return { status, body }
}

/**
 * The one place errors become HTTP (see errorAnswer). Every answer given here
 * gets its access log line here too.
 */
export function errorHandler(
  logger: Logger,
  log: AccessLog,
  allowedMethods: (path: string) => string[],
  /** Auth-params a 401's Bearer challenge adds for this request (see headersOf). */
  challengeParams: (request: Request) => string | undefined = () => undefined,
) {
  return new Elysia({ name: 'error-handler' }).onError({ as: 'global' }, async ({ code, error, request, path, route, set }) => {
    const known = toHttpError(code, error, request, path, allowedMethods)
    const { status, body } = errorAnswer(known, error, logger, requestIdOf(request))
    set.status = status
    if (known) Object.assign(set.headers, headersOf(known, status === 401 ? challengeParams(request) : undefined))
    log(request, route || path, status)
    await answered(request, { status, headers: set.headers, body })
    return body
  })
}
