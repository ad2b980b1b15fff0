import { lte, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared } from '../db/operations'
import { rateLimits } from '../db/schema'
import { RateLimited } from './errors'

const placeholder = (name: string) => sql.placeholder(name)

export interface RateLimit {
  /** Attempts allowed in a burst. */
  burst: number
  /** Seconds for one attempt to come back. */
  refillSeconds: number
}

// Full buckets are deleted at most this often per limiter: the table holds the
// addresses seen within one refill of a full burst, not every address ever.
const SWEEP_EVERY_MS = 60_000

/**
 * Takes one attempt from the token bucket of `key`, in the database, so every
 * instance sharing it counts against one limit. Throws RateLimited, with the
 * seconds until the next token, when the bucket is empty.
 *
 * The bucket is kept as the time it is full again (full_at): `burst` tokens
 * when that is past, one fewer per refill period it lies ahead. One atomic
 * upsert refills and takes; `time` comes from the caller's clock, not the
 * database's, so tests can move it, and an instance whose clock lags another's
 * gains no tokens from it (greatest()).
 */
export async function takeAttempt(db: Database, key: string, { burst, refillSeconds }: RateLimit, time: number): Promise<void> {
  const take = prepared(db, 'rate_limits_take', (name) => {
    const now = sql`${placeholder('now')}::timestamptz`
    const period = sql`${placeholder('period')}::interval`
    const from = sql`greatest(${rateLimits.fullAt}, ${now})`
    // Room for one more token: the bucket is full again at most burst - 1 refills from now.
    const fits = sql`${from} - ${now} <= ${placeholder('room')}::interval`
    return db
      .insert(rateLimits)
      .values({ key: placeholder('key'), fullAt: sql`${now} + ${period}`, taken: sql`true` })
      .onConflictDoUpdate({
        target: rateLimits.key,
        set: { fullAt: sql`case when ${fits} then ${from} + ${period} else ${rateLimits.fullAt} end`, taken: fits },
      })
      .returning({ taken: rateLimits.taken, aheadSeconds: sql<number>`extract(epoch from ${rateLimits.fullAt} - ${now})::float8` })
      .prepare(name)
  })
  const [bucket] = await take.execute({
    key,
    now: new Date(time).toISOString(),
    period: `${refillSeconds} seconds`,
    room: `${(burst - 1) * refillSeconds} seconds`,
  })
  if (!bucket!.taken) throw new RateLimited(Math.max(1, Math.ceil(bucket!.aheadSeconds - (burst - 1) * refillSeconds)))
}

/** Deletes the buckets that are full again (of every limit): they mean the same as no row. */
export async function sweepRateLimits(db: Database, time: number): Promise<void> {
  const sweep = prepared(db, 'rate_limits_sweep', (name) =>
    db
      .delete(rateLimits)
      .where(lte(rateLimits.fullAt, sql`${placeholder('now')}::timestamptz`))
      .prepare(name),
  )
  await sweep.execute({ now: new Date(time).toISOString() })
}

/**
 * The limit `name` per client address, on `db`. Every attempt counts, failed
 * or not. Now and then an attempt also sweeps full buckets; a failed sweep is
 * left to the next one, never failing the attempt that ran it.
 */
export function createRateLimiter(db: Database, name: string, limit: RateLimit, now: () => number = Date.now) {
  let sweptAt = now()
  return async function take(address: string): Promise<void> {
    const time = now()
    await takeAttempt(db, `${name}:${address}`, limit, time)
    if (time - sweptAt < SWEEP_EVERY_MS) return
    sweptAt = time
    await sweepRateLimits(db, time).catch(() => {})
  }
}
