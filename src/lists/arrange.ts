// Creating, moving and deleting lists: the changes that take the user's lock
// (positions.ts), so that they see each other's result and never compete
// for one position.
import { and, desc, eq, sql } from 'drizzle-orm'
import { generateKeyBetween } from 'fractional-indexing'
import type { Database } from '../db/client'
import { type Transaction, transaction } from '../db/operations'
import { explainMissing, meets, type Precondition } from '../db/ownership'
import { lists, taskQuotas, tasks } from '../db/schema'
import { PreconditionFailed, ValidationFailed } from '../errors'
import { advance, bury, stamp } from '../sync/feed'
import { DefaultListProtected, ListLimitReached } from './errors'
import type { ListModel } from './model'
import { keyNextTo, MAX_KEY_LENGTH, placedLists, renumber } from './positions'
import { ensureDefaultList, type ListRow, listResource, listState, rowColumns } from './queries'

export const MAX_LISTS_PER_USER = 1_000

/** Creates a list, placed last, within the user's list limit. */
export async function createList(db: Database, userId: string, input: typeof ListModel.create.static): Promise<ListRow> {
  // The default list comes first, made before the user's first own list.
  await ensureDefaultList(db, userId)
  return transaction(db, async (tx) => {
    // Taking a slot locks the user's quota row and advances their feed, as
    // advance() does: concurrent creates cannot overshoot the limit, and each
    // reads the last position only once the one before it has committed, so
    // none competes for it.
    const [slot] = await tx
      .update(taskQuotas)
      .set({ listCount: sql`${taskQuotas.listCount} + 1`, changePosition: sql`${taskQuotas.changePosition} + 1` })
      .where(and(eq(taskQuotas.userId, userId), sql`${taskQuotas.listCount} < ${MAX_LISTS_PER_USER}`))
      .returning({ userId: taskQuotas.userId })
    if (!slot) throw new ListLimitReached(MAX_LISTS_PER_USER)
    // Only the last key, while the lock is held: a burst of creates waits on it.
    const [last] = await tx
      .select({ position: lists.position })
      .from(lists)
      .where(eq(lists.userId, userId))
      .orderBy(desc(lists.position))
      .limit(1)
    let position = generateKeyBetween(last?.position ?? null, null)
    if (position.length > MAX_KEY_LENGTH) {
      const placed = await renumber(tx, userId, await placedLists(tx, userId))
      position = generateKeyBetween(placed.at(-1)!.position, null)
    }
    const [row] = await tx
      .insert(lists)
      .values({ userId, name: input.name, color: input.color ?? null, position, changePosition: stamp(userId) })
      .returning(rowColumns)
    return row!
  })
}

type Locked = { version: number; isDefault: boolean }

/** The user's list `id`, locked for the transaction; undefined when it is not the user's. */
async function lockList(tx: Transaction, userId: string, id: number, precondition: Precondition | undefined): Promise<Locked | undefined> {
  const [list] = await tx
    .select({ version: lists.version, isDefault: lists.isDefault, open_count: rowColumns.open_count })
    .from(lists)
    .where(and(eq(lists.userId, userId), eq(lists.id, id)))
    .for('update')
  if (list && !meets(precondition, listState(list))) throw new PreconditionFailed('list')
  return list
}

/**
 * Deletes the list and its tasks (subtasks included: they are in the same
 * list) in one transaction, giving their slots back to the user's quotas.
 */
export async function deleteList(db: Database, userId: string, id: number, precondition?: Precondition): Promise<void> {
  const found = await transaction(db, async (tx) => {
    // The quota row first, as a create takes it: a task create in flight
    // finishes first and its task is counted here; a later one waits, then
    // finds the list gone.
    await advance(tx, userId)
    const list = await lockList(tx, userId, id, precondition)
    if (!list) return false
    if (list.isDefault) throw new DefaultListProtected('deleted')
    const gone = tx.$with('gone').as(
      tx
        .delete(tasks)
        .where(and(eq(tasks.userId, userId), eq(tasks.listId, id)))
        .returning({ id: tasks.id }),
    )
    const released = tx.$with('released').as(
      tx
        .update(taskQuotas)
        .set({ taskCount: sql`${taskQuotas.taskCount} - (select count(*) from ${gone})`, listCount: sql`${taskQuotas.listCount} - 1` })
        .where(eq(taskQuotas.userId, userId))
        .returning({ userId: taskQuotas.userId }),
    )
    await bury(tx, userId, 'task', gone, released)
    const deletedList = tx.$with('gone').as(
      tx
        .delete(lists)
        .where(and(eq(lists.userId, userId), eq(lists.id, id)))
        .returning({ id: lists.id }),
    )
    await bury(tx, userId, 'list', deletedList)
    return true
  })
  // Outside the transaction: the 403-or-404 lookup needs a connection of its own.
  if (!found) await explainMissing(db, lists, listResource, userId, id)
}

export type Anchor = { after_id?: number; before_id?: number }

/** Places list `id` just after or just before another list of the user. */
export async function moveList(db: Database, userId: string, id: number, anchor: Anchor, precondition?: Precondition): Promise<ListRow> {
  const side = anchor.after_id !== undefined ? 'after' : 'before'
  const field = `${side}_id` as const
  const anchorId = anchor[field]!
  const moved = await transaction(db, async (tx) => {
    await advance(tx, userId)
    const list = await lockList(tx, userId, id, precondition)
    if (!list) return undefined
    if (list.isDefault) throw new DefaultListProtected('moved')
    let placed = await placedLists(tx, userId)
    if (anchorId === id || !placed.some((other) => other.id === anchorId))
      throw new ValidationFailed([{ field, message: 'must be the id of another of your lists' }])
    let position = keyNextTo(placed, id, anchorId, side)
    if (position !== undefined && position.length > MAX_KEY_LENGTH) {
      placed = await renumber(tx, userId, placed)
      position = keyNextTo(placed, id, anchorId, side)
    }
    const mine = and(eq(lists.userId, userId), eq(lists.id, id))
    // Already there: nothing changes, nor does the ETag.
    const [row] =
      position === undefined
        ? await tx.select(rowColumns).from(lists).where(mine)
        : await tx
            .update(lists)
            .set({ position, version: sql`${lists.version} + 1`, updatedAt: sql`now()`, changePosition: stamp(userId) })
            .where(mine)
            .returning(rowColumns)
    return row
  })
  // Under the user's lock no other create or move can take the key meanwhile;
  // the unique index stands guard all the same.
  return moved ?? (await explainMissing(db, lists, listResource, userId, id))
}
