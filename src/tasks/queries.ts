import { and, asc, desc, eq, getTableColumns, ilike, or, type SQL, sql } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import { generateKeyBetween } from 'fractional-indexing'
import type { Database } from '../db/client'
import { prepared, transaction } from '../db/operations'
import { explainMissing, owned, type Precondition, versionCheck, versionValues } from '../db/ownership'
import { taskQuotas, tasks } from '../db/schema'
import type { Page } from '../http/paging'
import { defaultPlacement } from '../lists/queries'
import { TaskLimitReached, TaskNotFound } from './errors'
import { type Task, TaskModel } from './model'

export const MAX_TASKS_PER_USER = 10_000

type CreateInput = typeof TaskModel.create.static
type UpdateInput = typeof TaskModel.update.static
type ListQuery = typeof TaskModel.listQuery.static
type Field = keyof UpdateInput

const placeholder = (name: string) => sql.placeholder(name)

// The table's column for each field of the answer, found by the column's
// name: the answer (TaskModel.task) and the table are the two declarations.
const columnsByName = Object.fromEntries(Object.values(getTableColumns(tasks)).map((column) => [column.name, column])) as Record<
  string,
  PgColumn
>
const columnOf = (field: string): PgColumn => {
  const column = columnsByName[field]
  if (!column) throw new Error(`tasks has no column for the field ${field}`)
  return column
}

// Timestamps leave PostgreSQL as ISO 8601 strings: no Date round trip, and the
// same text on PGlite and PostgreSQL. Columns have millisecond precision.
const iso = (column: PgColumn) => sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** What every statement returns: the answer's fields (never user_id), in the answer's order. */
const answerColumns = Object.fromEntries(
  Object.keys(TaskModel.task.properties).map((field) => {
    const column = columnOf(field)
    return [field, column.getSQLType().startsWith('timestamp') ? iso(column) : column]
  }),
) as unknown as { [F in keyof Task]: SQL<Task[F]> }

/** A task as stored: the answer, plus the version behind its ETag. */
export type TaskRow = Task & { version: number }
const rowColumns = { ...answerColumns, version: tasks.version }

/** The answer without the version, which travels in the ETag header instead. */
export function toTask({ version: _, ...task }: TaskRow): Task {
  return task
}

const resource = { name: 'task', notFound: () => new TaskNotFound() }

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
      return [sql`${tasks.dueDate} ${sql.raw(query.order === 'asc' ? 'asc' : 'desc')} nulls last`, direction(tasks.id)]
    case 'priority':
      return [direction(tasks.priority), direction(tasks.id)]
    case 'title':
      // Byte order of the lower-cased title: the same on every server, whatever its collation.
      return [direction(sql`lower(${tasks.title}) collate "C"`), direction(tasks.id)]
    default:
      return [direction(tasks.createdAt), direction(tasks.id)]
  }
}

// Which filters a list uses decides its statement; the values are placeholders.
function listFilter(query: ListQuery): SQL | undefined {
  return and(
    eq(tasks.userId, placeholder('userId')),
    // Constants in the SQL, not bound values: the status picks the statement anyway.
    query.status === 'pending' ? eq(tasks.completed, sql`false`) : undefined,
    query.status === 'completed' ? eq(tasks.completed, sql`true`) : undefined,
    query.priority ? eq(tasks.priority, placeholder('priority')) : undefined,
    query.tag ? sql`${tasks.tags} @> array[${placeholder('tag')}]::text[]` : undefined,
    query.q ? or(ilike(tasks.title, placeholder('pattern')), ilike(tasks.description, placeholder('pattern'))) : undefined,
  )
}

export async function listTasks(db: Database, userId: string, query: ListQuery, page: Page): Promise<{ tasks: Task[]; total: number }> {
  const shape = [
    query.status ?? 'all',
    Boolean(query.priority),
    Boolean(query.tag),
    Boolean(query.q),
    query.sort ?? 'created_at',
    query.order ?? 'desc',
  ]
  const values = {
    userId,
    priority: query.priority,
    tag: query.tag,
    pattern: query.q ? `%${escapeLike(query.q)}%` : undefined,
    ...page,
  }
  const list = prepared(db, `tasks_list_${shape.join('_')}`, (name) => {
    const matching = listFilter(query)
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
    return db
      .select({ task: answerColumns, total })
      .from(tasks)
      .where(matching)
      .orderBy(...listOrder(query))
      .limit(placeholder('limit'))
      .offset(placeholder('offset'))
      .prepare(name)
  })
  const found = await list.execute(values)
  if (found.length === 0 && page.offset > 0) {
    // Paged past the end: no row carries the count, so count separately.
    const count = prepared(db, `tasks_count_${shape.join('_')}`, (name) =>
      db.select({ total: sql<number>`count(*)::int` }).from(tasks).where(listFilter(query)).prepare(name),
    )
    const [counted] = await count.execute(values)
    return { tasks: [], total: counted?.total ?? 0 }
  }
  // A null total: the first page holds every matching task.
  const total = found[0]?.total ?? found.length
  return { tasks: found.map((row) => row.task), total }
}

export async function getTask(db: Database, userId: string, id: number): Promise<TaskRow> {
  const get = prepared(db, 'tasks_get', (name) => db.select(rowColumns).from(tasks).where(owned(tasks)).prepare(name))
  const [row] = await get.execute({ userId, id })
  return row ?? explainMissing(db, tasks, resource, userId, id)
}

// Optional on create: the create model's fields but title.
const OPTIONAL_ON_CREATE = Object.keys(TaskModel.create.properties).filter((field) => field !== 'title') as (keyof CreateInput)[]

export async function createTask(db: Database, userId: string, input: CreateInput): Promise<TaskRow> {
  // Only the fields given are bound; the rest take their column defaults.
  const given = OPTIONAL_ON_CREATE.filter((field) => input[field] !== undefined)
  const values: Record<string, unknown> = {}
  for (const field of ['title', ...given]) values[keyOf(columnOf(field))] = input[field as keyof CreateInput]
  return transaction(db, async (tx) => {
    // The user's quota row first: it takes the slot (no slot left: 409, so
    // concurrent creates cannot overshoot) and stays locked until commit, so
    // this user's writes that place tasks run one at a time: the position read
    // next is still free when the insert writes it.
    const [slot] = await tx
      .insert(taskQuotas)
      .values({ userId, taskCount: 1 })
      .onConflictDoUpdate({
        target: taskQuotas.userId,
        set: { taskCount: sql`${taskQuotas.taskCount} + 1` },
        setWhere: sql`${taskQuotas.taskCount} < ${sql.raw(String(MAX_TASKS_PER_USER))}`,
      })
      .returning({ userId: taskQuotas.userId })
    if (!slot) throw new TaskLimitReached(MAX_TASKS_PER_USER)
    const { listId, last } = await defaultPlacement(tx, userId)
    const [row] = await tx
      .insert(tasks)
      .values({ ...(values as typeof tasks.$inferInsert), userId, listId, position: generateKeyBetween(last, null) })
      .returning(rowColumns)
    return row!
  })
}

// The table object's key for a column (drizzle's insert and set take keys, not column names).
const keyOfColumn = new Map(Object.entries(getTableColumns(tasks)).map(([key, column]) => [column as PgColumn, key]))
function keyOf(column: PgColumn): string {
  return keyOfColumn.get(column)!
}

const WRITABLE = Object.keys(TaskModel.update.properties) as Field[]

type Changes = Omit<UpdateInput, 'due_date'> & { due_date?: string | null }

/**
 * Applies the given fields. `version` and `updated_at` move only when a value
 * really changes, so repeating a write is idempotent and keeps its ETag.
 */
export async function updateTask(
  db: Database,
  userId: string,
  id: number,
  changes: Changes,
  precondition?: Precondition,
): Promise<TaskRow> {
  const fields = WRITABLE.filter((field) => changes[field] !== undefined)
  const check = versionCheck(tasks, precondition)
  const update = prepared(db, `tasks_update_${fields.join('_')}_${Boolean(check)}`, (name) => {
    const changed = fields.length
      ? sql.join(
          fields.map((field) => sql`${columnOf(field)} is distinct from ${sql.param(placeholder(field), columnOf(field))}`),
          sql` or `,
        )
      : sql`false`
    const set: Record<string, unknown> = Object.fromEntries(fields.map((field) => [keyOf(columnOf(field)), placeholder(field)]))
    return db
      .update(tasks)
      .set({
        ...set,
        version: sql`case when ${changed} then ${tasks.version} + 1 else ${tasks.version} end`,
        updatedAt: sql`case when ${changed} then now() else ${tasks.updatedAt} end`,
      })
      .where(and(owned(tasks), check))
      .returning(rowColumns)
      .prepare(name)
  })
  const [row] = await update.execute({ userId, id, ...changes, ...versionValues(precondition) })
  return row ?? explainMissing(db, tasks, resource, userId, id, precondition)
}

export async function toggleTask(db: Database, userId: string, id: number, precondition?: Precondition): Promise<TaskRow> {
  const check = versionCheck(tasks, precondition)
  const toggle = prepared(db, `tasks_toggle_${Boolean(check)}`, (name) =>
    db
      .update(tasks)
      .set({ completed: sql`not ${tasks.completed}`, version: sql`${tasks.version} + 1`, updatedAt: sql`now()` })
      .where(and(owned(tasks), check))
      .returning(rowColumns)
      .prepare(name),
  )
  const [row] = await toggle.execute({ userId, id, ...versionValues(precondition) })
  return row ?? explainMissing(db, tasks, resource, userId, id, precondition)
}

export async function deleteTask(db: Database, userId: string, id: number, precondition?: Precondition): Promise<void> {
  const check = versionCheck(tasks, precondition)
  // The task decides the answer; the quota row, when there is one, gives its slot back.
  const remove = prepared(db, `tasks_delete_${Boolean(check)}`, (name) => {
    const gone = db.$with('gone').as(
      db
        .delete(tasks)
        .where(and(owned(tasks), check))
        .returning({ id: tasks.id }),
    )
    const released = db.$with('released').as(
      db
        .update(taskQuotas)
        .set({ taskCount: sql`${taskQuotas.taskCount} - 1` })
        .where(and(eq(taskQuotas.userId, placeholder('userId')), sql`exists (select 1 from ${gone})`))
        .returning({ userId: taskQuotas.userId }),
    )
    return db.with(gone, released).select({ id: gone.id }).from(gone).prepare(name)
  })
  const [deleted] = await remove.execute({ userId, id, ...versionValues(precondition) })
  if (!deleted) await explainMissing(db, tasks, resource, userId, id, precondition)
}
