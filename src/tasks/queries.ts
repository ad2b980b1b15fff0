import { and, asc, desc, eq, ilike, inArray, or, type SQL, sql } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'
import type { Database } from '../db/client'
import { taskQuotas, tasks } from '../db/schema'
import { Forbidden, PreconditionFailed, TaskLimitReached, TaskNotFound } from '../http/errors'
import type { TaskModel } from './model'

export const MAX_TASKS_PER_USER = 10_000

type CreateInput = typeof TaskModel.create.static
type UpdateInput = typeof TaskModel.update.static
type ListQuery = typeof TaskModel.listQuery.static

// Timestamps leave PostgreSQL as ISO 8601 strings: no Date round trip, and the
// same text on PGlite and PostgreSQL. Columns have millisecond precision.
const iso = (column: AnyPgColumn) => sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

// Never user_id: the response schema has no place for it.
const taskColumns = {
  id: tasks.id,
  title: tasks.title,
  description: tasks.description,
  completed: tasks.completed,
  priority: tasks.priority,
  due_date: iso(tasks.dueDate),
  tags: tasks.tags,
  created_at: iso(tasks.createdAt),
  updated_at: iso(tasks.updatedAt),
  version: tasks.version,
}

export type TaskRow = {
  id: number
  title: string
  description: string | null
  completed: boolean
  priority: 'low' | 'medium' | 'high'
  due_date: string | null
  tags: string[]
  created_at: string
  updated_at: string
  version: number
}

/** What If-Match allows: any current version (`*`), or one of these versions. */
export type Precondition = { any: true } | { versions: number[] }

const owned = (userId: string, id: number) => and(eq(tasks.userId, userId), eq(tasks.id, id))

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

function listFilter(userId: string, query: ListQuery): SQL | undefined {
  const pattern = query.q ? `%${escapeLike(query.q)}%` : undefined
  return and(
    eq(tasks.userId, userId),
    query.status === 'pending' ? eq(tasks.completed, false) : undefined,
    query.status === 'completed' ? eq(tasks.completed, true) : undefined,
    query.priority ? eq(tasks.priority, query.priority) : undefined,
    query.tag ? sql`${tasks.tags} @> array[${query.tag}]::text[]` : undefined,
    pattern ? or(ilike(tasks.title, pattern), ilike(tasks.description, pattern)) : undefined,
  )
}

export async function listTasks(db: Database, userId: string, query: ListQuery): Promise<{ rows: TaskRow[]; total: number }> {
  const where = listFilter(userId, query)
  const offset = query.offset ?? 0
  const found = await db
    .select({ ...taskColumns, total: sql<number>`(count(*) over ())::int` })
    .from(tasks)
    .where(where)
    .orderBy(...listOrder(query))
    .limit(query.limit ?? 100)
    .offset(offset)
  if (found.length === 0 && offset > 0) {
    // Paged past the end: the window count saw no rows, so count separately.
    const [counted] = await db.select({ total: sql<number>`count(*)::int` }).from(tasks).where(where)
    return { rows: [], total: counted?.total ?? 0 }
  }
  return { rows: found.map(({ total: _, ...row }) => row), total: found[0]?.total ?? 0 }
}

/** When an owner-scoped statement found nothing: 403, 404 or 412, decided by id alone. */
async function explainMissing(db: Database, userId: string, id: number, precondition?: Precondition): Promise<never> {
  const [existing] = await db
    .select({ mine: sql<boolean>`${tasks.userId} = ${userId}` })
    .from(tasks)
    .where(eq(tasks.id, id))
    .limit(1)
  if (!existing) throw new TaskNotFound()
  if (!existing.mine) throw new Forbidden('This task belongs to another user')
  if (precondition) throw new PreconditionFailed()
  throw new TaskNotFound() // deleted between the two statements
}

function matching(precondition: Precondition | undefined): SQL | undefined {
  if (!precondition || 'any' in precondition) return undefined
  return precondition.versions.length ? inArray(tasks.version, precondition.versions) : sql`false`
}

export async function getTask(db: Database, userId: string, id: number): Promise<TaskRow> {
  const [row] = await db.select(taskColumns).from(tasks).where(owned(userId, id))
  return row ?? explainMissing(db, userId, id)
}

export async function createTask(db: Database, userId: string, input: CreateInput): Promise<TaskRow> {
  // One statement takes a slot in the user's quota row (locked by the upsert,
  // so concurrent creates cannot overshoot) and inserts the task. With no slot
  // left the CTE is empty, version is NULL and the NOT NULL constraint stops
  // the insert: SQLSTATE 23502 means the limit was reached. user_id stays a
  // constant, as Citus requires of a distribution column.
  const slot = db.$with('slot').as(
    db
      .insert(taskQuotas)
      .values({ userId, taskCount: 1 })
      .onConflictDoUpdate({
        target: taskQuotas.userId,
        set: { taskCount: sql`${taskQuotas.taskCount} + 1` },
        setWhere: sql`${taskQuotas.taskCount} < ${MAX_TASKS_PER_USER}`,
      })
      .returning({ userId: taskQuotas.userId }),
  )
  try {
    const [row] = await db
      .with(slot)
      .insert(tasks)
      .values({
        userId,
        version: sql`(select 1 from ${slot})`,
        title: input.title,
        description: input.description ?? null,
        priority: input.priority,
        dueDate: input.due_date ?? null,
        tags: input.tags,
      })
      .returning(taskColumns)
    return row!
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code === '23502') throw new TaskLimitReached(MAX_TASKS_PER_USER)
    throw error
  }
}

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
  const set = {
    title: changes.title,
    description: changes.description,
    completed: changes.completed,
    priority: changes.priority,
    dueDate: changes.due_date,
    tags: changes.tags,
  }
  const differs = Object.entries(set)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => {
      const column = tasks[key as keyof typeof set]
      return sql`${column} is distinct from ${sql.param(value, column)}`
    })
  const changed = differs.length ? sql.join(differs, sql` or `) : sql`false`
  return writeTask(db, userId, id, precondition, {
    ...set,
    version: sql`case when ${changed} then ${tasks.version} + 1 else ${tasks.version} end`,
    updatedAt: sql`case when ${changed} then now() else ${tasks.updatedAt} end`,
  })
}

export function toggleTask(db: Database, userId: string, id: number, precondition?: Precondition): Promise<TaskRow> {
  return writeTask(db, userId, id, precondition, {
    completed: sql`not ${tasks.completed}`,
    version: sql`${tasks.version} + 1`,
    updatedAt: sql`now()`,
  })
}

async function writeTask(
  db: Database,
  userId: string,
  id: number,
  precondition: Precondition | undefined,
  set: Parameters<ReturnType<Database['update']>['set']>[0],
): Promise<TaskRow> {
  const [row] = await db
    .update(tasks)
    .set(set)
    .where(and(owned(userId, id), matching(precondition)))
    .returning(taskColumns)
  return row ?? explainMissing(db, userId, id, precondition)
}

export async function deleteTask(db: Database, userId: string, id: number, precondition?: Precondition): Promise<void> {
  const gone = db
    .$with('gone')
    .as(db.delete(tasks).where(and(owned(userId, id), matching(precondition))).returning({ userId: tasks.userId }))
  const [released] = await db
    .with(gone)
    .update(taskQuotas)
    .set({ taskCount: sql`${taskQuotas.taskCount} - 1` })
    .where(and(eq(taskQuotas.userId, userId), sql`exists (select 1 from ${gone})`))
    .returning({ userId: taskQuotas.userId })
  if (!released) await explainMissing(db, userId, id, precondition)
}
