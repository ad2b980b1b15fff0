// The shape of a user's tasks: which list and parent a task has, how deep it
// sits, where it goes among its siblings. These run inside a transaction
// (src/db/operations.ts) that first takes the user's row (advance, in
// src/sync/feed.ts), so two moves of one user never decide on the same
// picture of the tree. Every row they change is stamped in the feed.
import { and, asc, desc, eq, gt, lt, ne, or, type Placeholder, type SQL, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { generateKeyBetween, generateNKeysBetween } from 'fractional-indexing'
import { preparedIn, type Transaction } from '../db/operations'
import { lists, tasks } from '../db/schema'
import { stamp } from '../sync/feed'

const placeholder = (name: string) => sql.placeholder(name)

/** A top-level task and three levels below it: a task has at most this many ancestors. */
export const MAX_ANCESTORS = 3
/** Past this length a sibling group is given fresh, short keys before a task is placed in it. */
export const MAX_KEY_LENGTH = 32

/**
 * The ids whose children are in the subtree of `id` (itself and every level
 * that can still have children), all in list `listId`: a task's subtree stays
 * in its list, so the sibling-position index serves each level. Depth is
 * bounded, so no recursion is needed.
 */
function subtreeParents(userId: string | SQL | Placeholder, listId: SQL | Placeholder | number, id: SQL | Placeholder | number): SQL {
  let level = sql`select ${id}::bigint`
  const levels = [level]
  for (let depth = 1; depth < MAX_ANCESTORS; depth++) {
    const below = sql.raw(`level${depth}`)
    level = sql`select ${below}.id from ${tasks} as ${below}
      where ${below}.user_id = ${userId} and ${below}.list_id = ${listId} and coalesce(${below}.parent_id, 0) in (${level})`
    levels.push(level)
  }
  return sql.join(levels, sql` union all `)
}

/** The condition on `tasks` that selects the descendants (all levels) of task `id` in list `listId`. */
export function descendantsOf(userId: string, listId: number, id: number): SQL {
  return and(
    eq(tasks.userId, userId),
    eq(tasks.listId, listId),
    sql`coalesce(${tasks.parentId}, 0) in (${subtreeParents(userId, listId, id)})`,
  )!
}

// How many levels of subtasks the task read by readNode has below it (0..3).
function heightOf(userId: string): SQL<number> {
  let level = sql`select ${tasks.id}`
  const checks: SQL[] = []
  for (let depth = 1; depth <= MAX_ANCESTORS; depth++) {
    const below = sql.raw(`height${depth}`)
    level = sql`select ${below}.id from ${tasks} as ${below}
      where ${below}.user_id = ${userId} and ${below}.list_id = ${tasks.listId} and coalesce(${below}.parent_id, 0) in (${level})`
    checks.push(sql`(case when exists (${level}) then 1 else 0 end)`)
  }
  return sql<number>`(${sql.join(checks, sql` + `)})::int`
}

export type TaskNode = {
  id: number
  listId: number
  parentId: number | null
  position: string
  version: number
  completed: boolean
  /** Parent first, then its parent, and so on. */
  ancestors: number[]
  /** Levels of subtasks below this task. */
  height: number
}

const up1 = alias(tasks, 'up1')
const up2 = alias(tasks, 'up2')

/** One of the user's tasks with its place in the tree, or undefined; `lock` holds it for this transaction. */
export async function readNode(tx: Transaction, userId: string, id: number, lock = false): Promise<TaskNode | undefined> {
  const query = tx
    .select({
      id: tasks.id,
      listId: tasks.listId,
      parentId: tasks.parentId,
      position: tasks.position,
      version: tasks.version,
      completed: tasks.completed,
      up1: up1.parentId,
      up2: up2.parentId,
      height: heightOf(userId),
    })
    .from(tasks)
    .leftJoin(up1, and(eq(up1.userId, tasks.userId), eq(up1.id, tasks.parentId)))
    .leftJoin(up2, and(eq(up2.userId, up1.userId), eq(up2.id, up1.parentId)))
    .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
  const [row] = lock ? await query.for('update', { of: tasks }) : await query
  if (!row) return undefined
  const { up1: grandparent, up2: greatGrandparent, ...node } = row
  const ancestors = [node.parentId, grandparent, greatGrandparent].filter((ancestor): ancestor is number => ancestor !== null)
  return { ...node, ancestors }
}

/** Whether list `listId` is one of the user's. */
export async function ownsList(tx: Transaction, userId: string, listId: number): Promise<boolean> {
  const [found] = await tx
    .select({ id: lists.id })
    .from(lists)
    .where(and(eq(lists.userId, userId), eq(lists.id, listId)))
  return found !== undefined
}

/** A place among siblings: the list, the parent (null at the top level), and the task being placed, left out of its siblings. */
export type Slot = { listId: number; parentId: number | null; moving?: number }

function siblingsOf(userId: string, slot: Slot): SQL {
  return and(
    eq(tasks.userId, userId),
    eq(tasks.listId, slot.listId),
    sql`coalesce(${tasks.parentId}, 0) = ${slot.parentId ?? 0}`,
    slot.moving === undefined ? undefined : ne(tasks.id, slot.moving),
  )!
}

/**
 * The position key for a task placed in `slot` between the keys `after` and
 * `before` (either null for an open end). A key that would pass
 * MAX_KEY_LENGTH (repeated moves into one gap lengthen keys) renumbers the
 * sibling group first, in this transaction, and is computed again.
 */
export async function keyBetween(
  tx: Transaction,
  userId: string,
  slot: Slot,
  after: string | null,
  before: string | null,
): Promise<string> {
  const key = generateKeyBetween(after, before)
  if (key.length <= MAX_KEY_LENGTH) return key
  const siblings = await tx
    .select({ id: tasks.id, position: tasks.position })
    .from(tasks)
    .where(siblingsOf(userId, slot))
    .orderBy(asc(tasks.position))
  // The new task's index among the siblings: after every key up to `after`.
  const at = after === null ? 0 : siblings.filter((sibling) => sibling.position <= after).length
  const keys = generateNKeysBetween(null, null, siblings.length + 1)
  const renumbered = siblings.map((sibling, index) => ({ id: sibling.id, position: keys[index < at ? index : index + 1]! }))
  await renumber(tx, userId, slot, renumbered)
  return keys[at]!
}

// The unique index is checked row by row, so new keys could meet old ones half
// way: the group (and the task being placed) first take keys no
// fractional-indexing key can equal ('~' sorts after every digit it uses).
async function renumber(tx: Transaction, userId: string, slot: Slot, renumbered: { id: number; position: string }[]): Promise<void> {
  const group = and(eq(tasks.userId, userId), eq(tasks.listId, slot.listId), sql`coalesce(${tasks.parentId}, 0) = ${slot.parentId ?? 0}`)
  const aside = slot.moving === undefined ? group : or(group, and(eq(tasks.userId, userId), eq(tasks.id, slot.moving)))
  await tx
    .update(tasks)
    .set({ position: sql`'~' || ${tasks.id}::text` })
    .where(aside)
  if (renumbered.length === 0) return
  const cases = sql.join(
    renumbered.map(({ id, position }) => sql`when ${id}::bigint then ${position}`),
    sql` `,
  )
  await tx
    .update(tasks)
    .set({
      position: sql`(case ${tasks.id} ${cases} end)`,
      version: sql`${tasks.version} + 1`,
      updatedAt: sql`now()`,
      changePosition: stamp(userId),
    })
    .where(
      and(
        siblingsOf(userId, slot),
        sql`${tasks.id} in (${sql.join(
          renumbered.map(({ id }) => sql`${id}::bigint`),
          sql`, `,
        )})`,
      ),
    )
}

/** The key of the last task in `slot`, or null when it has none. */
export async function lastKey(tx: Transaction, userId: string, slot: Slot): Promise<string | null> {
  const [last] = await tx
    .select({ position: tasks.position })
    .from(tasks)
    .where(siblingsOf(userId, slot))
    .orderBy(desc(tasks.position))
    .limit(1)
  return last?.position ?? null
}

/** The key of the sibling right after `key` in `slot` (null: `key` is last). */
export async function nextKey(tx: Transaction, userId: string, slot: Slot, key: string): Promise<string | null> {
  const [next] = await tx
    .select({ position: tasks.position })
    .from(tasks)
    .where(and(siblingsOf(userId, slot), gt(tasks.position, key)))
    .orderBy(asc(tasks.position))
    .limit(1)
  return next?.position ?? null
}

/** The key of the sibling right before `key` in `slot` (null: `key` is first). */
export async function previousKey(tx: Transaction, userId: string, slot: Slot, key: string): Promise<string | null> {
  const [previous] = await tx
    .select({ position: tasks.position })
    .from(tasks)
    .where(and(siblingsOf(userId, slot), lt(tasks.position, key)))
    .orderBy(desc(tasks.position))
    .limit(1)
  return previous?.position ?? null
}

/**
 * Puts task `node` at `key` in `slot`; when the list changes its subtasks
 * (all levels) follow it. Every row that changes gets a new version.
 */
export async function relocate(tx: Transaction, userId: string, node: TaskNode, slot: Slot, key: string): Promise<void> {
  if (slot.listId !== node.listId) {
    await tx
      .update(tasks)
      .set({ listId: slot.listId, version: sql`${tasks.version} + 1`, updatedAt: sql`now()`, changePosition: stamp(userId) })
      .where(descendantsOf(userId, node.listId, node.id))
    // Both lists' open_count may change.
    await stampLists(tx, userId, [node.listId, slot.listId])
  }
  await tx
    .update(tasks)
    .set({
      listId: slot.listId,
      parentId: slot.parentId,
      position: key,
      version: sql`${tasks.version} + 1`,
      updatedAt: sql`now()`,
      changePosition: stamp(userId),
    })
    .where(and(eq(tasks.userId, userId), eq(tasks.id, node.id)))
}

/** Completes the open subtasks (all levels) of task `id`; reopening a task leaves them as they are. */
export function completeDescendants(tx: Transaction, userId: string, listId: number, id: number): Promise<void> {
  return markDescendants(tx, userId, listId, id, true)
}

/** Reopens the completed subtasks (all levels) of task `id`: a recurring task's next occurrence starts afresh. */
export function reopenDescendants(tx: Transaction, userId: string, listId: number, id: number): Promise<void> {
  return markDescendants(tx, userId, listId, id, false)
}

async function markDescendants(tx: Transaction, userId: string, listId: number, id: number, completed: boolean): Promise<void> {
  // Built once (as every toggle to completed runs it), and planned once per connection.
  await preparedIn(tx, completed ? 'tasks_complete_descendants' : 'tasks_reopen_descendants', (name) =>
    tx
      .update(tasks)
      .set({ completed, version: sql`${tasks.version} + 1`, updatedAt: sql`now()`, changePosition: stamp(placeholder('userId')) })
      .where(
        and(
          eq(tasks.userId, placeholder('userId')),
          eq(tasks.listId, placeholder('listId')),
          sql`coalesce(${tasks.parentId}, 0) in (${subtreeParents(placeholder('userId'), placeholder('listId'), placeholder('id'))})`,
          eq(tasks.completed, completed ? sql`false` : sql`true`),
        ),
      )
      .prepare(name),
  ).execute({ userId, listId, id })
}

/**
 * Stamps lists in the feed whose open_count a change of their tasks may have
 * moved: a list is answered with its open_count, so sync sends it again.
 */
export async function stampLists(tx: Transaction, userId: string, listIds: number[]): Promise<void> {
  await preparedIn(tx, 'lists_stamp', (name) =>
    tx
      .update(lists)
      .set({ changePosition: stamp(placeholder('userId')) })
      .where(and(eq(lists.userId, placeholder('userId')), sql`${lists.id} = any(${placeholder('listIds')}::bigint[])`))
      .prepare(name),
  ).execute({ userId, listIds })
}
