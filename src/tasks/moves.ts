// POST /api/tasks/{id}/move, and the list change of PUT/PATCH: where a task
// goes (list, parent, place among siblings), checked against the tree as it
// is under the user's lock (src/tasks/tree.ts).
import { and, eq } from 'drizzle-orm'
import type { Database } from '../db/client'
import { sqlStateOf } from '../db/errors'
import { type Transaction, transaction } from '../db/operations'
import { explainMissing, meets, type Precondition } from '../db/ownership'
import { tasks } from '../db/schema'
import { PreconditionFailed, ValidationFailed } from '../errors'
import { advance } from '../sync/feed'
import { resource, rowColumns, type TaskRow } from './columns'
import type { TaskModel } from './model'
import { keyBetween, lastKey, MAX_ANCESTORS, nextKey, ownsList, previousKey, readNode, relocate, type Slot, type TaskNode } from './tree'

export type MoveInput = typeof TaskModel.move.static

const refused = (field: string, message: string) => new ValidationFailed([{ field, message }])

export const NOT_YOUR_LIST = 'is not one of your lists'
export const NOT_YOUR_TASK = 'is not one of your tasks'
export const TOO_DEEP = `would nest the task too deep: a task has at most ${MAX_ANCESTORS} ancestors (a top-level task and ${MAX_ANCESTORS} levels below it)`

/** Throws 412 unless If-Match names the task's current version (or `*`, or no header). */
export function checkPrecondition(node: { version: number }, precondition: Precondition | undefined): void {
  if (!meets(precondition, [node.version])) throw new PreconditionFailed('task')
}

/** The slot a move asks for: the parent's list, else the list asked for, else where the task is. */
async function destination(tx: Transaction, userId: string, node: TaskNode, input: MoveInput): Promise<Slot> {
  const { list_id: listId, parent_id: parentId } = input
  if (parentId === undefined || parentId === null) {
    const stays = listId === undefined || listId === node.listId
    // Left out, parent_id keeps the parent: a subtask cannot leave its parent's list alone.
    if (!stays && parentId === undefined && node.parentId !== null)
      throw refused(
        'list_id',
        "cannot change on a subtask: it stays in its parent's list (move it with parent_id: null, or move its top-level task)",
      )
    if (!stays && !(await ownsList(tx, userId, listId!))) throw refused('list_id', NOT_YOUR_LIST)
    return { listId: listId ?? node.listId, parentId: parentId === null ? null : node.parentId, moving: node.id }
  }
  if (parentId === node.id) throw refused('parent_id', 'cannot be the task itself')
  const parent = await readNode(tx, userId, parentId)
  if (!parent) throw refused('parent_id', NOT_YOUR_TASK)
  if (listId !== undefined && listId !== parent.listId)
    throw refused('list_id', `must be the parent task's list (${parent.listId}): a subtask is in its parent's list`)
  if (parent.ancestors.includes(node.id)) throw refused('parent_id', 'is a subtask of this task: a task cannot move under its own subtask')
  if (parent.ancestors.length + 1 + node.height > MAX_ANCESTORS) throw refused('parent_id', TOO_DEEP)
  return { listId: parent.listId, parentId: parent.id, moving: node.id }
}

/** The key of `after_id` or `before_id`, which must be a sibling at the destination. */
async function anchorKey(tx: Transaction, userId: string, slot: Slot, field: 'after_id' | 'before_id', id: number): Promise<string> {
  if (id === slot.moving) throw refused(field, 'must be another task than the one moved')
  const [anchor] = await tx
    .select({ listId: tasks.listId, parentId: tasks.parentId, position: tasks.position })
    .from(tasks)
    .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
  if (!anchor) throw refused(field, NOT_YOUR_TASK)
  if (anchor.listId !== slot.listId || anchor.parentId !== slot.parentId)
    throw refused(field, `is not a sibling at the destination (list ${slot.listId}, parent ${slot.parentId ?? 'none'})`)
  return anchor.position
}

/**
 * The key for the task in `slot`: right after `after_id` (also when
 * `before_id` is given too: a key halfway between two anchors with siblings
 * between them could be one of theirs), right before `before_id`, or last.
 */
async function placeKey(tx: Transaction, userId: string, slot: Slot, input: MoveInput): Promise<string> {
  const after = input.after_id === undefined ? undefined : await anchorKey(tx, userId, slot, 'after_id', input.after_id)
  const before = input.before_id === undefined ? undefined : await anchorKey(tx, userId, slot, 'before_id', input.before_id)
  if (after !== undefined && before !== undefined && after >= before)
    throw refused('before_id', 'must come after after_id among the siblings')
  if (after !== undefined) return keyBetween(tx, userId, slot, after, await nextKey(tx, userId, slot, after))
  if (before !== undefined) return keyBetween(tx, userId, slot, await previousKey(tx, userId, slot, before), before)
  return keyBetween(tx, userId, slot, await lastKey(tx, userId, slot), null)
}

/**
 * Moves the locked task `node` as `input` asks, its subtasks with it, inside
 * the caller's transaction (which holds the user's lock).
 */
async function moveWithin(tx: Transaction, userId: string, node: TaskNode, input: MoveInput): Promise<void> {
  const slot = await destination(tx, userId, node, input)
  await relocate(tx, userId, node, slot, await placeKey(tx, userId, slot, input))
}

/** PUT/PATCH list_id: the task (top level, last) and its subtasks to that list; its own list changes nothing. */
export async function relist(tx: Transaction, userId: string, node: TaskNode, listId: number): Promise<void> {
  if (listId !== node.listId) await moveWithin(tx, userId, node, { list_id: listId })
}

// Each lost race means a concurrent create took the key: this many is far past any real burst.
const MAX_MOVE_ATTEMPTS = 20

/**
 * Runs `work` on the locked task in a transaction holding the user's lock,
 * then answers the task as it is. Two writers taking the same key collide on
 * the sibling-position index (23505): the transaction runs again.
 */
export async function withLockedTask(
  db: Database,
  userId: string,
  id: number,
  precondition: Precondition | undefined,
  work: (tx: Transaction, node: TaskNode) => Promise<void>,
): Promise<TaskRow> {
  for (let attempt = 1; ; attempt++) {
    try {
      const row = await transaction(db, async (tx) => {
        await advance(tx, userId)
        const node = await readNode(tx, userId, id, true)
        if (!node) return undefined
        checkPrecondition(node, precondition)
        await work(tx, node)
        const [row] = await tx
          .select(rowColumns)
          .from(tasks)
          .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
        return row
      })
      // Outside the transaction: PGlite runs one statement at a time.
      return row ?? (await explainMissing(db, tasks, resource, userId, id))
    } catch (error) {
      if (sqlStateOf(error) !== '23505' || attempt === MAX_MOVE_ATTEMPTS) throw error
    }
  }
}

export function moveTask(db: Database, userId: string, id: number, input: MoveInput, precondition?: Precondition): Promise<TaskRow> {
  return withLockedTask(db, userId, id, precondition, (tx, node) => moveWithin(tx, userId, node, input))
}
