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

/** X-Request-Id on every response and one JSON log line per request. */
export function requestLog(logger: Logger) {
  return new Elysia({ name: 'request-log' })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get('x-request-id')
      const id = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
      contexts.set(request, { id, start: performance.now() })
      set.headers['x-request-id'] = id
      logger.debug('request received', { request_id: id, method: request.method })
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, route, path }) => {
      const context = contexts.get(request)
      const status = typeof set.status === 'number' ? set.status : 200
      // The path without its query string: a query is where a careless client puts a token.
      logger[status >= 500 ? 'error' : 'info']('request', {
        request_id: context?.id,
        method: request.method,
        route: route || path,
        status,
        duration_ms: context ? Math.round((performance.now() - context.start) * 100) / 100 : undefined,
      })
    })
}
