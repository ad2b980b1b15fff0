// One write per key, whichever way the key comes: the Idempotency-Key header
// of a REST write (plugin.ts) or the idempotency_key argument of an MCP tool.
// The first request with a key runs and its answer is kept; a repeat of it
// gets that answer again and changes nothing; another request with the same
// key is refused.
import type { Database } from '../db/client'
import type { Logger } from '../http/logger'
import { IdempotencyKeyInFlight, IdempotencyKeyReused } from './errors'
import { claimKey, readKey, releaseKey, keepAnswer as storeAnswer } from './store'

export const KEY = /^[\x20-\x7e]{1,255}$/
export const KEY_RULE = 'must be 1 to 255 printable ASCII characters'

/** An answer as kept: a status (5xx never), headers, and the body's text ('' for none). */
export type KeptAnswer = { status: number; headers: Record<string, string>; body: string }

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

/** What makes two requests the same: what they ask (`target`: a method and path, a tool) and their body. */
export function fingerprintOf(target: string, body: unknown): string {
  return new Bun.CryptoHasher('sha256').update(`${target}\n${JSON.stringify(canonical(body ?? null))}`).digest('hex')
}

/**
 * Claims `key` for a request: undefined when it is to run, the kept answer
 * when it repeats the request that claimed the key. Another request with the
 * key is IdempotencyKeyReused; a repeat while the first still runs,
 * IdempotencyKeyInFlight.
 */
export async function claimOrReplay(db: Database, userId: string, key: string, fingerprint: string): Promise<KeptAnswer | undefined> {
  if (await claimKey(db, userId, key, fingerprint)) return undefined
  const kept = await readKey(db, userId, key)
  if (kept && kept.fingerprint !== fingerprint) throw new IdempotencyKeyReused()
  if (!kept || kept.status === null || kept.body === null) throw new IdempotencyKeyInFlight()
  return { status: kept.status, headers: kept.headers ?? {}, body: kept.body }
}

/**
 * Keeps the answer of the request that claimed `key`; a 5xx frees the key
 * instead, so that a retry runs again. The answer goes out even when this
 * fails (logged): a 503 in its place would invite a retry of a write that is
 * done. The claim then stays without an answer, and a retry is in flight
 * until the claim counts as abandoned.
 */
export async function recordAnswer(
  db: Database,
  logger: Logger,
  userId: string,
  key: string,
  answer: KeptAnswer,
  requestId: string | undefined,
): Promise<void> {
  const unrecorded = (error: unknown) =>
    logger.warn('what an answer means for its Idempotency-Key could not be recorded', { request_id: requestId, cause: String(error) })
  // A 5xx is not held back either, having waited out the database once.
  if (answer.status >= 500) return void releaseKey(db, userId, key).catch(unrecorded)
  await storeAnswer(db, userId, key, answer.status, answer.headers, answer.body).catch(unrecorded)
}
