// Idempotency-Key on every write (POST, PUT, PATCH, DELETE) of the routes
// that use this plugin, after their auth guard: the key is the caller's.
// A repeat of the first request with a key gets its answer again (once.ts),
// marked Idempotent-Replayed.
import { Elysia } from 'elysia'
import type { Database } from '../db/client'
import { ValidationFailed } from '../errors'
import { type Answer, answered, keepAnswer } from '../http/answers'
import type { Logger } from '../http/logger'
import { requestIdOf } from '../http/request-log'
import { claimOrReplay, fingerprintOf, KEY, KEY_RULE, recordAnswer } from './once'

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
// Headers that belong to one delivery of an answer, not to the answer.
const NOT_KEPT = /^(?:x-request-id|vary|access-control-.*)$/

function keptHeaders(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name, value]) => typeof value === 'string' && !NOT_KEPT.test(name))) as Record<
    string,
    string
  >
}

export function idempotency(db: Database, logger: Logger) {
  return new Elysia()
    .onBeforeHandle({ as: 'scoped' }, async (context) => {
      const { request, set, body } = context
      if (!WRITES.has(request.method)) return
      const key = request.headers.get('idempotency-key')
      if (key === null) return
      if (!KEY.test(key)) throw new ValidationFailed([{ field: 'Idempotency-Key', message: KEY_RULE }])
      const { userId } = context as unknown as { userId: string }
      const url = new URL(request.url)
      const kept = await claimOrReplay(db, userId, key, fingerprintOf(`${request.method} ${url.pathname}${url.search}`, body))
      if (!kept) {
        keepAnswer(request, (answer: Answer) =>
          recordAnswer(
            db,
            logger,
            userId,
            key,
            {
              status: answer.status,
              headers: keptHeaders(answer.headers),
              body: answer.body === undefined ? '' : JSON.stringify(answer.body),
            },
            requestIdOf(request),
          ),
        )
        return
      }
      set.status = kept.status
      Object.assign(set.headers, kept.headers, { 'idempotent-replayed': 'true' })
      // An answer without a body (204) as a Response: returning undefined would run the handler.
      return kept.body === '' ? new Response(null, { status: kept.status }) : JSON.parse(kept.body)
    })
    .onAfterHandle({ as: 'scoped' }, async ({ request, set, responseValue }) => {
      await answered(request, { status: typeof set.status === 'number' ? set.status : 200, headers: set.headers, body: responseValue })
    })
}
