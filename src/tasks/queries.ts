import { and, asc, desc, eq, ilike, or, type SQL, sql } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import type { Database } from '../db/client'
import { prepared, preparedIn, type Transaction, transaction } from '../db/operations'
import { explainMissing, owned, type Precondition, stateCheck, stateValues } from '../db/ownership'
import { lists, taskQuotas, tasks } from '../db/schema'
import { ValidationFailed } from '../errors'
import type { Page } from '../http/paging'
import { RESTARTING_FIELDS, type RecurrenceColumns, refusedWithoutDue, restartedSeries } from '../recurrence/columns'
import { rollForward } from '../recurrence/roll'
import { scheduleReminders } from '../reminders/schedule'
import { DEFAULT_TIME_ZONE } from '../settings/model'
import { getSettings } from '../settings/queries'
import { advance, advancing, bury, feedPosition, positionColumn, stamp } from '../sync/feed'
import { answerColumns, keyOf, resource, rowColumns, storedColumnsOf, type TaskRow } from './columns'
import type { DueColumns } from './due-dates'
import { type DueWindow, dueCondition, dueShape, dueSortKey, dueValues, dueWindow, lastPassedColumn, usesTimeZone } from './due-views'
import { type Task, TaskModel } from './model'
import { checkPrecondition, NOT_YOUR_LIST, NOT_YOUR_TASK, relist, withLockedTask } from './moves'
import { completeDescendants, descendantsOf, stampLists } from './tree'

type UpdateInput = typeof TaskModel.update.static
type ListQuery = typeof TaskModel.listQuery.static
type Field = keyof UpdateInput

const placeholder = (name: string) => sql.placeholder(name)

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`)
}

function listOrder(query: ListQuery): SQL[] {
  const direction = query.order === 'asc' ? asc : desc
  switch (query.sort) {
    case 'updated_at':
      return [direction(tasks.updatedAt), direction(tasks.id)]
    case 'due_date':
      // Tasks without a due date come last whichever way the list runs.
      return [sql`${dueSortKey} ${sql.raw(query.order === 'asc' ? 'asc' : 'desc')} nulls last`, direction(tasks.id)]
    case 'priority':
      return [direction(tasks.priority), direction(tasks.id)]
    case 'title':
      // Byte order of the lower-cased title: the same on every server, whatever its collation.
      return [direction(sql`lower(${tasks.title}) collate "C"`), direction(tasks.id)]
    case 'position':
      // Keys order siblings: filter by list_id and parent_id for one group in order.
      return query.order === 'desc' ? [desc(tasks.position), desc(tasks.id)] : [asc(tasks.position), asc(tasks.id)]
    default:
      return [direction(tasks.createdAt), direction(tasks.id)]
  }
}

// Which filters a list uses decides its statement; the values are placeholders.
function listFilter(query: ListQuery, window: DueWindow | undefined): SQL | undefined {
  return and(
    eq(tasks.userId, placeholder('userId')),
    query.list_id === undefined ? undefined : eq(tasks.listId, placeholder('listId')),
    // Spelt as the sibling-position index spells it, so the index serves a list's top level.
    query.parent_id === undefined ? undefined : sql`coalesce(${tasks.parentId}, 0) = ${placeholder('parentId')}`,
    // Constants in the SQL, not bound values: the status picks the statement anyway.
    query.status === 'pending' ? eq(tasks.completed, sql`false`) : undefined,
    query.status === 'completed' ? eq(tasks.completed, sql`true`) : undefined,
    query.priority ? eq(tasks.priority, placeholder('priority')) : undefined,
    query.tag ? sql`${tasks.tags} @> array[${placeholder('tag')}]::text[]` : undefined,
    query.q ? or(ilike(tasks.title, placeholder('pattern')), ilike(tasks.description, placeholder('pattern'))) : undefined,
    dueCondition(window),
  )
}

/** How a list's days are counted: its due window (due-views.ts), the zone of its days, and now. */
export type ListTime = { window: DueWindow | undefined; zone: string; now: Date }

/** The list's days at `now`: in tz, else in the user's zone, read only when the answer depends on one. */
export async function listTimeOf(db: Database, userId: string, query: ListQuery, now: Date): Promise<ListTime> {
  const zone = query.tz ?? (usesTimeZone(query) ? (await getSettings(db, userId)).time_zone : DEFAULT_TIME_ZONE)
  return { window: dueWindow(query, now, zone), zone, now }
}

/** The user's feed position and, for due=overdue, the last due moment before now: what a list's ETag is made of. */
export async function listTagState(
  db: Database,
  userId: string,
  query: ListQuery,
  now: Date,
): Promise<{ position: number; lastPassed?: string | null }> {
  if (query.due !== 'overdue') return { position: await feedPosition(db, userId) }
  const read = prepared(db, 'tasks_list_tag_overdue', (name) =>
    db
      .select({ position: positionColumn(placeholder('userId')), lastPassed: lastPassedColumn })
      .from(sql`(select 1) as one`)
      .prepare(name),
  )
  const [state] = await read.execute({ userId, now: now.toISOString() })
  return { position: state?.position ?? 0, lastPassed: state?.lastPassed }
}

export async function listTasks(
  db: Database,
  userId: string,
  query: ListQuery,
  page: Page,
  time: ListTime,
): Promise<{ tasks: Task[]; total: number; position: number; lastPassed?: string | null }> {
  const overdue = query.due === 'overdue'
  const shape = [
    query.list_id === undefined ? 'any' : 'list',
    query.parent_id === undefined ? 'any' : 'parent',
    query.status ?? 'all',
    Boolean(query.priority),
    Boolean(query.tag),
    Boolean(query.q),
    query.sort ?? 'created_at',
    query.order ?? (query.sort === 'position' ? 'asc' : 'desc'),
    dueShape(time.window),
    overdue,
  ]
  const values = {
    userId,
    listId: query.list_id,
    parentId: query.parent_id === 'none' ? 0 : query.parent_id,
    priority: query.priority,
    tag: query.tag,
    pattern: query.q ? `%${escapeLike(query.q)}%` : undefined,
    ...dueValues(time.window),
    zone: time.zone,
    now: time.now.toISOString(),
    ...page,
  }
  const list = prepared(db, `tasks_list_${shape.join('_')}`, (name) => {
    const matching = listFilter(query, time.window)
    // X-Total-Count without reading every matching row when one page holds
    // them all: the first subquery stops at limit + 1 rows, and only past
    // that (or past the first page) does the full count run. A count(*)
    // over () window would read and buffer every row of the user on every
    // list. Both subqueries are uncorrelated, so PostgreSQL runs each at most
    // once per statement, the second only if the CASE reaches it.
    const total = sql<number | null>`case
      when ${placeholder('offset')} = 0
        and (select count(*) from (select 1 from ${tasks} where ${matching} limit ${placeholder('limit')} + 1) as first_page) <= ${placeholder('limit')}
      then null
      else (select count(*) from ${tasks} where ${matching})::int end`
    return (
      db
        // The feed position the rows are at, for the ETag: same statement, same snapshot.
        // For due=overdue, what else the ETag is made of, in the same snapshot.
        .select({
          task: answerColumns,
          total,
          position: positionColumn(placeholder('userId')),
          ...(overdue && { lastPassed: lastPassedColumn }),
        })
        .from(tasks)
        .where(matching)
        .orderBy(...listOrder(query))
        .limit(placeholder('limit'))
        .offset(placeholder('offset'))
        .prepare(name)
    )
  })
  type TagState = Awaited<ReturnType<typeof listTagState>>
  let found = await list.execute(values)
  let state: TagState | undefined = found[0] && { position: found[0].position ?? 0, lastPassed: found[0].lastPassed }
  if (!state) {
    // No row carries the position: read it first and the list again, so the
    // ETag never names a position the answer is older than.
    const read = await listTagState(db, userId, query, time.now)
    found = await list.execute(values)
    state = found[0] ? { position: found[0].position ?? 0, lastPassed: found[0].lastPassed } : read
  }
  if (found.length === 0 && page.offset > 0) {
    // Paged past the end: no row carries the count, so count separately.
    const count = prepared(db, `tasks_count_${shape.join('_')}`, (name) =>
      db.select({ total: sql<number>`count(*)::int` }).from(tasks).where(listFilter(query, time.window)).prepare(name),
    )
    const [counted] = await count.execute(values)
    if (!counted?.total) await checkFilterIds(db, userId, query)
    return { tasks: [], total: counted?.total ?? 0, ...state! }
  }
  // A task found proves the list or parent is the caller's; only an empty answer asks.
  if (found.length === 0) await checkFilterIds(db, userId, query)
  // A null total: the first page holds every matching task.
  const total = found[0]?.total ?? found.length
  return { tasks: found.map((row) => row.task), total, ...state! }
}

/** 422 naming list_id or parent_id when the filter names an id that is not one of the caller's. */
async function checkFilterIds(db: Database, userId: string, query: ListQuery): Promise<void> {
  if (query.list_id !== undefined) {
    const list = prepared(db, 'tasks_list_is_mine', (name) =>
      db
        .select({ id: lists.id })
        .from(lists)
        .where(and(eq(lists.userId, placeholder('userId')), eq(lists.id, placeholder('id'))))
        .prepare(name),
    )
    if ((await list.execute({ userId, id: query.list_id })).length === 0)
      throw new ValidationFailed([{ field: 'list_id', message: NOT_YOUR_LIST }])
  }
  if (typeof query.parent_id === 'number') {
    const task = prepared(db, 'tasks_is_mine', (name) => db.select({ id: tasks.id }).from(tasks).where(owned(tasks)).prepare(name))
    if ((await task.execute({ userId, id: query.parent_id })).length === 0)
      throw new ValidationFailed([{ field: 'parent_id', message: NOT_YOUR_TASK }])
  }
}

export async function getTask(db: Database, userId: string, id: number): Promise<TaskRow> {
  const get = prepared(db, 'tasks_get', (name) => db.select(rowColumns).from(tasks).where(owned(tasks)).prepare(name))
  const [row] = await get.execute({ userId, id })
  return row ?? explainMissing(db, tasks, resource, userId, id)
}

// list_id moves the task and its subtasks (src/tasks/moves.ts); the rest are plain column writes.
const WRITABLE = Object.keys(TaskModel.update.properties).filter((field) => field !== 'list_id') as Exclude<Field, 'list_id'>[]

// The due date and the recurrence arrive as the columns they are stored in (due-dates.ts, src/recurrence).
type Changes = Omit<UpdateInput, 'due_date'> & Partial<DueColumns> & Partial<RecurrenceColumns>

// The field update, on the database (prepared once, advancing the user's
// feed itself) or inside a transaction (which has advanced it).
function updateStatement(db: Database, fields: Exclude<Field, 'list_id'>[], check: SQL | undefined, inTransaction: boolean) {
  const columns = fields.flatMap(storedColumnsOf)
  const changedAmong = (columns: PgColumn[]) =>
    columns.length
      ? sql.join(
          columns.map((column) => sql`${column} is distinct from ${sql.param(placeholder(column.name), column)}`),
          sql` or `,
        )
      : sql`false`
  const changed = changedAmong(columns)
  const set: Record<string, unknown> = Object.fromEntries(columns.map((column) => [keyOf(column), placeholder(column.name)]))
  const restarting = fields.filter((field) => RESTARTING_FIELDS.includes(field))
  if (restarting.length) Object.assign(set, restartedSeries(changedAmong(restarting.flatMap(storedColumnsOf)), fields.includes('due_date')))
  const advanced = advancing(db, placeholder('userId'))
  const position = inTransaction ? stamp(placeholder('userId')) : sql`(select change_position from ${advanced})`
  return (
    (inTransaction ? db : db.with(advanced))
      .update(tasks)
      .set({
        ...set,
        version: sql`case when ${changed} then ${tasks.version} + 1 else ${tasks.version} end`,
        updatedAt: sql`case when ${changed} then now() else ${tasks.updatedAt} end`,
        changePosition: sql`case when ${changed} then ${position} else ${tasks.changePosition} end`,
      })
      // Gated on the user's row first, as every write is (src/sync/feed.ts).
      .where(and(inTransaction ? undefined : sql`${position} is not null`, owned(tasks), check))
      .returning(rowColumns)
  )
}

/**
 * Applies the given fields. `version` and `updated_at` move only when a value
 * really changes, so repeating a write is idempotent and keeps its ETag.
 * A new list, or completion, takes a transaction: the subtasks move or
 * complete with it, and the lists' open_count changes. Completing an open
 * recurring task moves it to its next occurrence instead (src/recurrence).
 * So does a new due date or new reminders: the reminders' schedule changes
 * with them. Both count from the clock `now`.
 */
export async function updateTask(
  db: Database,
  userId: string,
  id: number,
  changes: Changes,
  precondition: Precondition | undefined,
  now: Date,
): Promise<TaskRow> {
  const fields = WRITABLE.filter((field) => changes[field] !== undefined)
  const name = `tasks_update_${fields.join('_')}`
  const reschedules = changes.reminders !== undefined || changes.due_date !== undefined || changes.due_day !== undefined
  try {
    if (changes.list_id !== undefined || changes.completed !== undefined || reschedules)
      return await withLockedTask(db, userId, id, precondition, async (tx, node) => {
        if (changes.list_id !== undefined) await relist(tx, userId, node, changes.list_id)
        const [row] = await preparedIn(tx, `${name}_locked`, (name) => updateStatement(tx, fields, undefined, true).prepare(name)).execute({
          userId,
          id,
          ...changes,
        })
        if (reschedules) await scheduleReminders(tx, userId, [id], now)
        const rolled = changes.completed === true && !node.completed && row!.recurrence && (await rollForward(tx, userId, id, now))
        if (changes.completed === true && !rolled) await completeDescendants(tx, userId, row!.list_id, id)
        if (changes.completed !== undefined) await stampLists(tx, userId, [row!.list_id])
      })
    const check = stateCheck([tasks.version], precondition)
    const update = prepared(db, `${name}_${Boolean(check)}`, (name) => updateStatement(db, fields, check, false).prepare(name))
    const [row] = await update.execute({ userId, id, ...changes, ...stateValues(precondition) })
    return row ?? (await explainMissing(db, tasks, resource, userId, id, precondition))
  } catch (error) {
    throw refusedWithoutDue(error, changes) ?? error
  }
}

/**
 * Completed becomes not completed and back; completing completes the open
 * subtasks too, or, for a recurring task, moves it to its next occurrence
 * (src/recurrence) by the clock `now`.
 */
// The toggle needs neither the task's ancestors nor its height (as a move
// does): one statement flips the row and stamps its list (its open_count
// moved), both under the If-Match check.
export async function toggleTask(
  db: Database,
  userId: string,
  id: number,
  precondition: Precondition | undefined,
  now: Date,
): Promise<TaskRow> {
  const check = stateCheck([tasks.version], precondition)
  const row = await transaction(db, async (tx) => {
    await advance(tx, userId)
    const [flipped] = await preparedIn(tx, `tasks_toggle_${Boolean(check)}`, (name) => flipStatement(tx, check).prepare(name)).execute({
      userId,
      id,
      ...stateValues(precondition),
    })
    const rolled = flipped?.completed && flipped.recurrence && (await rollForward(tx, userId, id, now))
    if (rolled) return rolled
    // The subtasks change, not the task itself: the answer is the row as flipped.
    if (flipped?.completed) await completeDescendants(tx, userId, flipped.list_id, id)
    return flipped
  })
  // Outside the transaction: PGlite runs one statement at a time.
  return row ?? explainMissing(db, tasks, resource, userId, id, precondition)
}

function flipStatement(tx: Transaction, check: SQL | undefined) {
  const target = and(owned(tasks), check)
  const stamped = tx.$with('stamped').as(
    tx
      .update(lists)
      .set({ changePosition: stamp(placeholder('userId')) })
      .where(and(eq(lists.userId, placeholder('userId')), sql`${lists.id} = (select ${tasks.listId} from ${tasks} where ${target})`))
      .returning({ id: lists.id }),
  )
  return tx
    .with(stamped)
    .update(tasks)
    .set({
      completed: sql`not ${tasks.completed}`,
      version: sql`${tasks.version} + 1`,
      updatedAt: sql`now()`,
      changePosition: stamp(placeholder('userId')),
    })
    .where(target)
    .returning(rowColumns)
}

/**
 * Deletes the task and its subtasks (all levels), and gives their slots back
 * to the user's quota: the rows deleted are counted, not assumed (the foreign
 * key's cascade is only a safety net). Under the user's lock, so no subtask
 * is created under a task being deleted.
 */
export async function deleteTask(db: Database, userId: string, id: number, precondition?: Precondition): Promise<void> {
  const deleted = await transaction(db, async (tx) => {
    await advance(tx, userId)
    const [target] = await tx
      .select({ listId: tasks.listId, version: tasks.version })
      .from(tasks)
      .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
      .for('update')
    if (!target) return false
    checkPrecondition(target, precondition)
    const gone = tx.$with('gone').as(
      tx
        .delete(tasks)
        .where(or(and(eq(tasks.userId, userId), eq(tasks.id, id)), descendantsOf(userId, target.listId, id)))
        .returning({ id: tasks.id }),
    )
    const released = tx.$with('released').as(
      tx
        .update(taskQuotas)
        .set({ taskCount: sql`${taskQuotas.taskCount} - (select count(*) from ${gone})` })
        .where(eq(taskQuotas.userId, userId))
        .returning({ userId: taskQuotas.userId }),
    )
    await bury(tx, userId, 'task', gone, released)
    await stampLists(tx, userId, [target.listId])
    return true
  })
  // Outside the transaction: PGlite runs one statement at a time.
  if (!deleted) await explainMissing(db, tasks, resource, userId, id)
}
