import { Elysia } from 'elysia'
import type { Logger } from './logger'

interface RequestContext {
  id: string
  start: number
}

// Keyed by the Request itself so nothing per-request lives in module state
// beyond the request's own lifetime.
const contexts = new WeakMap<Request, RequestContext>()

// A client's id is kept only when it cannot break a log line or a header.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function requestIdOf(request: Request): string | undefined {
  return contexts.get(request)?.id
}

/** Writes the one access log line of a request, once its answer is decided. */
export type AccessLog = (request: Request, route: string, status: number) => void

export function accessLog(logger: Logger): AccessLog {
  return (request, route, status) => {
    const context = contexts.get(request)
    // The path without its query string: a query is where a careless client puts a token.
    logger[status >= 500 ? 'error' : 'info']('request', {
      request_id: context?.id,
      method: request.method,
      route,
      status,
      duration_ms: context ? Math.round((performance.now() - context.start) * 100) / 100 : undefined,
    })
  }
}

/**
 * X-Request-Id on every response, and the access log line of every answer a
 * handler gives; src/http/error-handler.ts writes it for every other answer.
 * Not in onAfterResponse: Elysia schedules a setImmediate per request for
 * that hook, an extra turn of the event loop on every request.
 */
export function requestLog(logger: Logger, log: AccessLog) {
  const debug = logger.enabled('debug')
  return new Elysia({ name: 'request-log' })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get('x-request-id')
      const id = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
      contexts.set(request, { id, start: performance.now() })
      set.headers['x-request-id'] = id
      if (debug) logger.debug('request received', { request_id: id, method: request.method })
      // The CORS plugin answers every OPTIONS request (204) from its own
      // onRequest, before routing and before any later hook could log it.
      if (request.method === 'OPTIONS') log(request, new URL(request.url).pathname, 204)
    })
    .onAfterHandle({ as: 'global' }, ({ request, set, route, path }) => {
      log(request, route || path, typeof set.status === 'number' ? set.status : 200)
    })
}
