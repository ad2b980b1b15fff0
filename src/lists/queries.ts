import { and, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { lists, taskQuotas, tasks } from '../db/schema'

export const DEFAULT_LIST_NAME = 'Inbox'
// The first key fractional-indexing gives: the default list is made before any other.
const FIRST_POSITION = 'a0'

/**
 * Makes the user's default list unless it exists, counting it in the user's
 * list quota. Two first requests racing make one: the partial unique index
 * on (user_id) where is_default settles it, and the loser does nothing.
 */
async function ensureDefaultList(db: Database, userId: string): Promise<void> {
  const made = db.$with('made').as(
    db
      .insert(lists)
      .values({ userId, name: DEFAULT_LIST_NAME, isDefault: true, position: FIRST_POSITION })
      .onConflictDoNothing({ target: lists.userId, where: sql`${lists.isDefault}` })
      .returning({ userId: lists.userId }),
  )
  await db
    .with(made)
    .insert(taskQuotas)
    .select(db.select({ userId: made.userId, taskCount: sql`0`.as('task_count'), listCount: sql`1`.as('list_count') }).from(made))
    .onConflictDoUpdate({ target: taskQuotas.userId, set: { listCount: sql`${taskQuotas.listCount} + 1` } })
}

/**
 * Where a new top-level task of the default list goes: that list, after its
 * last top-level task. Run in the transaction that inserts the task, after it
 * has locked the user's quota row (see createTask).
 */
export async function defaultPlacement(db: Database, userId: string): Promise<{ listId: number; last: string | null }> {
  const placement = () =>
    db
      .select({
        listId: lists.id,
        // Spelt out with a table alias: drizzle leaves the columns of a
        // one-table select unqualified, and inside the subquery they would
        // name the subquery's own table.
        last: sql<string | null>`(select sibling.position from ${tasks} as sibling
          where sibling.user_id = ${userId} and sibling.list_id = "lists"."id" and coalesce(sibling.parent_id, 0) = 0
          order by sibling.position desc limit 1)`,
      })
      .from(lists)
      .where(and(eq(lists.userId, userId), eq(lists.isDefault, sql`true`)))
  const [found] = await placement()
  if (found) return found
  await ensureDefaultList(db, userId)
  const [made] = await placement()
  return made!
}
