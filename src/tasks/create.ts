// POST /api/tasks: a new task goes last among its siblings, in the default
// list unless it names a list or a parent.
import { and, desc, eq, sql } from 'drizzle-orm'
import { getTableConfig } from 'drizzle-orm/pg-core'
import { generateKeyBetween } from 'fractional-indexing'
import type { Database } from '../db/client'
import { constraintOf, sqlStateOf } from '../db/errors'
import { prepared, preparedIn, transaction } from '../db/operations'
import { lists, taskQuotas, tasks } from '../db/schema'
import { ValidationFailed } from '../errors'
import { defaultPlacement } from '../lists/queries'
import { type RecurrenceColumns, refusedWithoutDue, seriesStart } from '../recurrence/columns'
import { scheduleReminders } from '../reminders/schedule'
import { advance } from '../sync/feed'
import { keyOf, rowColumns, storedColumnsOf, type TaskRow } from './columns'
import type { DueColumns } from './due-dates'
import { TaskLimitReached } from './errors'
import { TaskModel } from './model'
import { NOT_YOUR_LIST, NOT_YOUR_TASK, TOO_DEEP } from './moves'
import { keyBetween, lastKey, MAX_ANCESTORS, readNode } from './tree'

export const MAX_TASKS_PER_USER = 10_000

// The due date and the recurrence arrive as the columns they are stored in (due-dates.ts, src/recurrence).
type CreateInput = Omit<typeof TaskModel.create.static, 'due_date'> & Partial<DueColumns> & Partial<RecurrenceColumns>
type Optional = Exclude<keyof CreateInput, 'title' | 'list_id' | 'parent_id'>

const placeholder = (name: string) => sql.placeholder(name)

// The fields bound by name: the create model's, less title (always bound) and
// list and parent (they come from the placement).
const OPTIONAL_ON_CREATE = Object.keys(TaskModel.create.properties).filter(
  (field) => !['title', 'list_id', 'parent_id'].includes(field),
) as Optional[]

// One statement takes a slot in the user's quota row (locked by the upsert,
// so concurrent creates cannot overshoot), advances the user's change feed
// there, inserts the task and stamps its list (whose open_count changes).
// With no slot left the CTE is empty, version is NULL and the NOT NULL
// constraint stops the insert: SQLSTATE 23502 means the limit was reached.
// user_id stays a plain value, as Citus requires of a distribution column.
// Only the fields given are bound; the rest take their column defaults.
function insertStatement(db: Database, given: Optional[]) {
  const slot = db.$with('slot').as(
    db
      .insert(taskQuotas)
      .values({ userId: placeholder('userId'), taskCount: sql`1`, changePosition: sql`1` })
      .onConflictDoUpdate({
        target: taskQuotas.userId,
        set: { taskCount: sql`${taskQuotas.taskCount} + 1`, changePosition: sql`${taskQuotas.changePosition} + 1` },
        setWhere: sql`${taskQuotas.taskCount} < ${sql.raw(String(MAX_TASKS_PER_USER))}`,
      })
      .returning({ changePosition: taskQuotas.changePosition }),
  )
  const position = sql`(select change_position from ${slot})`
  const listStamped = db.$with('list_stamped').as(
    db
      .update(lists)
      .set({ changePosition: position })
      // Gated on the slot first: the user's row is locked before the list's, as in every write.
      .where(and(sql`${position} is not null`, eq(lists.userId, placeholder('userId')), eq(lists.id, placeholder('listId'))))
      .returning({ id: lists.id }),
  )
  const values: Record<string, unknown> = {
    userId: placeholder('userId'),
    version: sql`(select 1 from ${slot})`,
    changePosition: position,
    listId: placeholder('listId'),
    parentId: placeholder('parentId'),
    position: placeholder('position'),
  }
  for (const field of ['title', ...given]) for (const column of storedColumnsOf(field)) values[keyOf(column)] = placeholder(column.name)
  // A recurring task's series starts at its due date (without one, the insert is refused).
  if (given.includes('recurrence') && given.includes('due_date')) values[keyOf(tasks.recurrenceStart)] = seriesStart(true)
  return db
    .with(slot, listStamped)
    .insert(tasks)
    .values(values as typeof tasks.$inferInsert)
    .returning(rowColumns)
}

/** Where a new top-level task of list `listId` goes: after its last top-level task. */
async function lastTopLevelKey(db: Database, userId: string, listId: number): Promise<string | null> {
  const last = prepared(db, 'tasks_last_top_level', (name) =>
    db
      .select({ position: tasks.position })
      .from(tasks)
      .where(and(eq(tasks.userId, placeholder('userId')), eq(tasks.listId, placeholder('listId')), sql`coalesce(${tasks.parentId}, 0) = 0`))
      .orderBy(desc(tasks.position))
      .limit(1)
      .prepare(name),
  )
  const [found] = await last.execute({ userId, listId })
  return found?.position ?? null
}

// Each lost race means another create took the place: this many is far past any real burst.
const MAX_PLACEMENT_ATTEMPTS = 20

// fractional-indexing's digits; a key's fraction must not end in 0.
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/**
 * The key after `last`. A create that lost a race gets a random fraction
 * too: the creates that lost together (a burst for one user) then take
 * distinct keys instead of all colliding again on the next one, so a burst
 * of N costs about two attempts each rather than up to N.
 */
function keyAfter(last: string | null, attempt: number): string {
  const key = generateKeyBetween(last, null)
  if (attempt === 1) return key
  const random = crypto.getRandomValues(new Uint8Array(4))
  return key + [...random].map((byte, i) => DIGITS[i === random.length - 1 ? 1 + (byte % 61) : byte % 62]).join('')
}

// The foreign key that names the parent; the other one names the list.
// (getTableConfig builds its columns afresh: they compare by name.)
const PARENT_KEY = getTableConfig(tasks)
  .foreignKeys.find((key) => key.reference().columns.some((column) => column.name === tasks.parentId.name))!
  .getName()

/**
 * The 422 for a create whose list or parent is not the user's: the keys are
 * (user_id, list_id) and (user_id, parent_id), so another user's id is no
 * id of this user's. A list or parent deleted while the create ran ends here
 * too. A subtask's list comes from its parent unless list_id was sent: the
 * parent, gone with its list, is then the field to name.
 */
function vanished(input: CreateInput, constraint: string | undefined): ValidationFailed {
  const parentSent = input.parent_id !== undefined && input.parent_id !== null
  if (parentSent && (constraint === PARENT_KEY || input.list_id === undefined))
    return new ValidationFailed([{ field: 'parent_id', message: NOT_YOUR_TASK }])
  return new ValidationFailed([{ field: 'list_id', message: NOT_YOUR_LIST }])
}

/** `now`: a reminder whose time is before it does not fire. */
export async function createTask(db: Database, userId: string, input: CreateInput, now: Date): Promise<TaskRow> {
  const given = OPTIONAL_ON_CREATE.filter((field) => input[field] !== undefined)
  const name = `tasks_create_${given.join('_')}`
  // Two creates racing for the same place collide on the sibling-position
  // index (23505): the later one looks again.
  for (let attempt = 1; ; attempt++) {
    try {
      if (input.parent_id !== undefined && input.parent_id !== null) return await createSubtask(db, userId, input, given, name, now)
      const { listId, last } =
        input.list_id === undefined
          ? await defaultPlacement(db, userId)
          : { listId: input.list_id, last: await lastTopLevelKey(db, userId, input.list_id) }
      const values = { ...input, userId, listId, parentId: null, position: keyAfter(last, attempt) }
      // With reminders, their schedule commits with the task.
      if (input.reminders?.length)
        return await transaction(db, async (tx) => {
          const [row] = await preparedIn(tx, `${name}_scheduled`, (name) => insertStatement(tx, given).prepare(name)).execute(values)
          await scheduleReminders(tx, userId, [row!.id], now)
          return row!
        })
      const [row] = await prepared(db, name, (name) => insertStatement(db, given).prepare(name)).execute(values)
      return row!
    } catch (error) {
      const state = sqlStateOf(error)
      if (state === '23502') throw new TaskLimitReached(MAX_TASKS_PER_USER)
      if (state === '23503') throw vanished(input, constraintOf(error))
      if (state === '23514') throw refusedWithoutDue(error, input) ?? error
      if (state !== '23505' || attempt === MAX_PLACEMENT_ATTEMPTS) throw error
    }
  }
}

// Under the user's lock, so the parent cannot move deeper or to another list meanwhile.
function createSubtask(db: Database, userId: string, input: CreateInput, given: Optional[], name: string, now: Date): Promise<TaskRow> {
  return transaction(db, async (tx) => {
    await advance(tx, userId)
    const parent = await readNode(tx, userId, input.parent_id!)
    if (!parent) throw new ValidationFailed([{ field: 'parent_id', message: NOT_YOUR_TASK }])
    if (input.list_id !== undefined && input.list_id !== parent.listId)
      throw new ValidationFailed([
        { field: 'list_id', message: `must be the parent task's list (${parent.listId}): a subtask is in its parent's list` },
      ])
    if (parent.ancestors.length + 1 > MAX_ANCESTORS) throw new ValidationFailed([{ field: 'parent_id', message: TOO_DEEP }])
    const slot = { listId: parent.listId, parentId: parent.id }
    const position = await keyBetween(tx, userId, slot, await lastKey(tx, userId, slot), null)
    const [row] = await preparedIn(tx, `${name}_subtask`, (name) => insertStatement(tx, given).prepare(name)).execute({
      ...input,
      userId,
      listId: parent.listId,
      parentId: parent.id,
      position,
    })
    if (input.reminders?.length) await scheduleReminders(tx, userId, [row!.id], now)
    return row!
  })
}
