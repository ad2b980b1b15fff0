// Idempotency keys in the database, so a retry reaching another instance is
// recognised too. Claiming a key is one atomic upsert: of two requests with
// one key, on any instances, exactly one runs.
import { and, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared } from '../db/operations'
import { idempotencyKeys } from '../db/schema'

/** How long a key and its answer are kept. */
export const KEY_LIFETIME_HOURS = 24
/**
 * A claim still without an answer after this long was abandoned (its
 * instance died): a retry may take it over. Far past any request's deadline.
 */
export const ABANDONED_AFTER_SECONDS = 60

export type Kept = { fingerprint: string; status: number | null; headers: Record<string, string> | null; body: string | null }

const placeholder = (name: string) => sql.placeholder(name)
const mine = () => and(eq(idempotencyKeys.userId, placeholder('userId')), eq(idempotencyKeys.key, placeholder('key')))

/**
 * Claims `key` for a request: true when this request is to run (the key was
 * free, expired, or abandoned), false when another request holds it.
 */
export async function claimKey(db: Database, userId: string, key: string, fingerprint: string): Promise<boolean> {
  const claim = prepared(db, 'idempotency_claim', (name) =>
    db
      .insert(idempotencyKeys)
      .values({ userId: placeholder('userId'), key: placeholder('key'), fingerprint: placeholder('fingerprint') })
      .onConflictDoUpdate({
        target: [idempotencyKeys.userId, idempotencyKeys.key],
        set: { fingerprint: sql`excluded.fingerprint`, status: sql`null`, headers: sql`null`, body: sql`null`, createdAt: sql`now()` },
        setWhere: sql`${idempotencyKeys.createdAt} < now() - make_interval(hours => ${sql.raw(String(KEY_LIFETIME_HOURS))})
          or (${idempotencyKeys.status} is null and ${idempotencyKeys.createdAt} < now() - make_interval(secs => ${sql.raw(String(ABANDONED_AFTER_SECONDS))}))`,
      })
      .returning({ key: idempotencyKeys.key })
      .prepare(name),
  )
  return (await claim.execute({ userId, key, fingerprint })).length > 0
}

/** What is kept under `key`, or undefined (it was released meanwhile). */
export async function readKey(db: Database, userId: string, key: string): Promise<Kept | undefined> {
  const read = prepared(db, 'idempotency_read', (name) =>
    db
      .select({
        fingerprint: idempotencyKeys.fingerprint,
        status: idempotencyKeys.status,
        headers: idempotencyKeys.headers,
        body: idempotencyKeys.body,
      })
      .from(idempotencyKeys)
      .where(mine())
      .prepare(name),
  )
  const [found] = await read.execute({ userId, key })
  return found
}

/** Keeps the answer of the request that claimed `key`. */
export async function keepAnswer(db: Database, userId: string, key: string, status: number, headers: Record<string, string>, body: string) {
  const keep = prepared(db, 'idempotency_keep', (name) =>
    db
      .update(idempotencyKeys)
      .set({
        status: sql`${placeholder('status')}::int`,
        headers: sql`${placeholder('headers')}::jsonb`,
        body: sql`${placeholder('body')}::text`,
      })
      .where(mine())
      .prepare(name),
  )
  await keep.execute({ userId, key, status, headers: JSON.stringify(headers), body })
}

/** Frees `key`: the answer was a 5xx, which a retry should not get again. */
export async function releaseKey(db: Database, userId: string, key: string): Promise<void> {
  const release = prepared(db, 'idempotency_release', (name) => db.delete(idempotencyKeys).where(mine()).prepare(name))
  await release.execute({ userId, key })
}

// One statement forgets at most this many keys, so a sweep never holds long locks.
const PURGE_BATCH = 10_000

/** Forgets the keys past their lifetime at `now` (housekeeping, across users); returns how many. */
export async function purgeKeys(db: Database, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - KEY_LIFETIME_HOURS * 3_600_000).toISOString()
  let total = 0
  for (;;) {
    const purged = await db
      .delete(idempotencyKeys)
      .where(
        sql`(${idempotencyKeys.userId}, ${idempotencyKeys.key}) in
          (select user_id, key from ${idempotencyKeys} where created_at < ${cutoff} limit ${PURGE_BATCH})`,
      )
      .returning({ key: idempotencyKeys.key })
    total += purged.length
    if (purged.length < PURGE_BATCH) return total
  }
}
