// The writing side of the change feed. Every write of a user's lists and
// tasks runs after advance(): it locks the user's row in task_quotas and
// moves their position one on, and every row the write touches is stamped
// with that position. The row stays locked until commit, so one user's
// writes commit in position order: a client that has read position N has
// seen every change up to N, and nothing at or below N commits after it.
import type { Placeholder } from 'drizzle-orm'
import { eq, type SQL, sql, type WithSubquery } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared, preparedIn, type Transaction } from '../db/operations'
import { deletions, taskQuotas } from '../db/schema'

/**
 * Locks the user's row for the rest of the transaction (making it if the
 * user has none yet) and moves their feed one position on. Every write of
 * the user's lists and tasks takes it first, so one user's writes also run
 * one at a time: two moves never decide on the same picture of the tree,
 * and two creates never compete for one key.
 */
export async function advance(tx: Transaction, userId: string): Promise<void> {
  await preparedIn(tx, 'feed_advance', (name) =>
    tx
      .insert(taskQuotas)
      .values({ userId: sql.placeholder('userId') as unknown as string, changePosition: 1 })
      .onConflictDoUpdate({ target: taskQuotas.userId, set: { changePosition: sql`${taskQuotas.changePosition} + 1` } })
      .prepare(name),
  ).execute({ userId })
}

/**
 * The position advance() took in this transaction: the stamp of every row
 * written after it. (The transaction sees its own update of the row.)
 */
export function stamp(userId: string | SQL | Placeholder): SQL<number> {
  return positionColumn(userId) as SQL<number>
}

/**
 * The same in one statement without a transaction: a CTE that advances the
 * user's feed and returns the position as `change_position`. The statement
 * reading it must gate on it before touching other rows (a WHERE condition on
 * it alone is evaluated first), so the user's row is always locked before a
 * list's or task's, as in a transaction.
 */
export function advancing(db: Database | Transaction, userId: SQL | Placeholder | string) {
  return db.$with('advanced').as(
    db
      .insert(taskQuotas)
      .values({ userId: userId as string, changePosition: sql`1` })
      .onConflictDoUpdate({ target: taskQuotas.userId, set: { changePosition: sql`${taskQuotas.changePosition} + 1` } })
      .returning({ changePosition: taskQuotas.changePosition }),
  )
}

/**
 * The statement that records, at the transaction's position, the deletion of
 * each row the CTE `gone` returns (a DELETE ... RETURNING id); `others` are
 * more CTEs the statement carries (a data-modifying CTE always runs).
 */
export function bury(tx: Transaction, userId: string, kind: 'list' | 'task', gone: WithSubquery, ...others: WithSubquery[]) {
  return tx
    .with(gone, ...others)
    .insert(deletions)
    .select(sql`select ${userId}, ${kind}, ${gone}.id, ${stamp(userId)}, now() from ${gone}`)
    .onConflictDoNothing()
}

/**
 * The user's feed position as a column of a read: read in the same statement
 * as the data, it is exactly the position the data is at. Null for a user
 * who never wrote.
 */
export function positionColumn(userId: string | SQL | Placeholder): SQL<number | null> {
  return sql<number | null>`(select feed.change_position from ${taskQuotas} as feed where feed.user_id = ${userId})`
}

/** The user's feed position as committed now (0 for a user who never wrote). */
export async function feedPosition(db: Database, userId: string): Promise<number> {
  const read = prepared(db, 'feed_position', (name) =>
    db
      .select({ position: taskQuotas.changePosition })
      .from(taskQuotas)
      .where(eq(taskQuotas.userId, sql.placeholder('userId')))
      .prepare(name),
  )
  const [found] = await read.execute({ userId })
  return found?.position ?? 0
}
