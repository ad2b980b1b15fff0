// Idempotency-Key on every write (POST, PUT, PATCH, DELETE) of the routes
// that use this plugin, after their auth guard: the key is the caller's.
// The first request with a key runs and its answer is kept; a repeat of it
// gets that answer again, marked Idempotent-Replayed, and changes nothing.
import { Elysia } from 'elysia'
import type { Database } from '../db/client'
import { ValidationFailed } from '../errors'
import { type Answer, answered, keepAnswer } from '../http/answers'
import type { Logger } from '../http/logger'
import { requestIdOf } from '../http/request-log'
import { IdempotencyKeyInFlight, IdempotencyKeyReused } from './errors'
import { claimKey, readKey, releaseKey, keepAnswer as storeAnswer } from './store'

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const KEY = /^[\x20-\x7e]{1,255}$/
// Headers that belong to one delivery of an answer, not to the answer.
const NOT_KEPT = /^(?:x-request-id|vary|access-control-.*)$/

// The body as parsed, its fields in one order: a client that builds the body
// again for a retry may list them differently. A list's order counts.
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value === null || typeof value !== 'object') return value
  const fields = value as Record<string, unknown>
  return Object.fromEntries(
    Object.keys(fields)
      .sort()
      .map((field) => [field, canonical(fields[field])]),
  )
}

function fingerprintOf(request: Request, body: unknown): string {
  const url = new URL(request.url)
  return new Bun.CryptoHasher('sha256')
    .update(`${request.method} ${url.pathname}${url.search}\n${JSON.stringify(canonical(body ?? null))}`)
    .digest('hex')
}

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
      if (!KEY.test(key)) throw new ValidationFailed([{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' }])
      const { userId } = context as unknown as { userId: string }
      const fingerprint = fingerprintOf(request, body)
      if (await claimKey(db, userId, key, fingerprint)) {
        // The answer goes out even when what it means for the key cannot be recorded: a 503 in its
        // place would invite a retry of a write that is done. The claim then stays without an
        // answer, and a retry is 409 until the claim counts as abandoned.
        const unrecorded = (error: unknown) =>
          logger.warn('what an answer means for its Idempotency-Key could not be recorded', {
            request_id: requestIdOf(request),
            cause: String(error),
          })
        keepAnswer(request, async (answer: Answer) => {
          // A 5xx is not kept: a retry runs again. It is not held back either, having waited out the database once.
          if (answer.status >= 500) return void releaseKey(db, userId, key).catch(unrecorded)
          const body = answer.body === undefined ? '' : JSON.stringify(answer.body)
          await storeAnswer(db, userId, key, answer.status, keptHeaders(answer.headers), body).catch(unrecorded)
        })
        return
      }
      const kept = await readKey(db, userId, key)
      if (kept && kept.fingerprint !== fingerprint) throw new IdempotencyKeyReused()
      if (!kept || kept.status === null || kept.body === null) throw new IdempotencyKeyInFlight()
      set.status = kept.status
      Object.assign(set.headers, kept.headers, { 'idempotent-replayed': 'true' })
      // An answer without a body (204) as a Response: returning undefined would run the handler.
      return kept.body === '' ? new Response(null, { status: kept.status }) : JSON.parse(kept.body)
    })
    .onAfterHandle({ as: 'scoped' }, async ({ request, set, responseValue }) => {
      await answered(request, { status: typeof set.status === 'number' ? set.status : 200, headers: set.headers, body: responseValue })
    })
}
