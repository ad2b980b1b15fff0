// Deletions are remembered 30 days, then forgotten; each user's row records
// how far, so that a cursor from before then is answered 410 (sync again)
// rather than silently missing a deletion.
import { eq, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { deletions, taskQuotas } from '../db/schema'

export const DELETIONS_KEPT_DAYS = 30
// One statement forgets at most this many, so a sweep never holds long locks.
const BATCH = 10_000

/**
 * Forgets the deletions older than DELETIONS_KEPT_DAYS before `now`, a batch
 * at a time; returns how many. The one statement on user data across users
 * (housekeeping): it reads no user's data, it only drops what expired.
 */
export async function forgetDeletions(db: Database, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - DELETIONS_KEPT_DAYS * 86_400_000).toISOString()
  let total = 0
  for (;;) {
    const forgotten = db.$with('forgotten').as(
      db
        .delete(deletions)
        .where(
          sql`(${deletions.userId}, ${deletions.kind}, ${deletions.id}) in
            (select user_id, kind, id from ${deletions} where deleted_at < ${cutoff} limit ${BATCH})`,
        )
        .returning({ userId: deletions.userId, position: deletions.changePosition }),
    )
    const highest = db.$with('highest').as(
      db
        .select({ userId: forgotten.userId, position: sql<number>`max(${forgotten.position})`.as('position') })
        .from(forgotten)
        .groupBy(forgotten.userId),
    )
    const recorded = db.$with('recorded').as(
      db
        .update(taskQuotas)
        .set({ forgottenThrough: sql`greatest(${taskQuotas.forgottenThrough}, ${highest.position})` })
        .from(highest)
        .where(eq(taskQuotas.userId, highest.userId))
        .returning({ userId: taskQuotas.userId }),
    )
    const [row] = await db.with(forgotten, highest, recorded).select({ count: sql<number>`count(*)::int` }).from(forgotten)
    total += row?.count ?? 0
    if ((row?.count ?? 0) < BATCH) return total
  }
}
