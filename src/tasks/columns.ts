// The answer's columns, read by every task statement: the model's fields
// (src/tasks/model.ts) found in the table (src/db/schema.ts) by column name.
import { getTableColumns, type SQL, sql } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import { tasks } from '../db/schema'
import { recurrenceAnswer } from '../recurrence/columns'
import { TaskNotFound } from './errors'
import { type Task, TaskModel } from './model'

const columnsByName = Object.fromEntries(Object.values(getTableColumns(tasks)).map((column) => [column.name, column])) as Record<
  string,
  PgColumn
>
export const columnOf = (field: string): PgColumn => {
  const column = columnsByName[field]
  if (!column) throw new Error(`tasks has no column for the field ${field}`)
  return column
}

// The table object's key for a column (drizzle's insert and set take keys, not column names).
const keyOfColumn = new Map(Object.entries(getTableColumns(tasks)).map(([key, column]) => [column as PgColumn, key]))
export function keyOf(column: PgColumn): string {
  return keyOfColumn.get(column)!
}

// Timestamps leave PostgreSQL as ISO 8601 strings: no Date round trip, and the
// same text on PGlite and PostgreSQL. Columns have millisecond precision.
export const iso = (column: PgColumn | SQL) => sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

// A due date is kept in one of two columns (src/tasks/due-dates.ts): it is
// answered as it was given, a moment in UTC or the whole day as a date. A
// recurrence is kept as its rule and what it counts from (src/recurrence).
const STORED_IN: Record<string, PgColumn[]> = {
  due_date: [tasks.dueDate, tasks.dueDay],
  recurrence: [tasks.recurrenceRule, tasks.recurrenceFrom],
}
const ANSWERED_AS: Record<string, SQL> = {
  due_date: sql`coalesce(${iso(tasks.dueDate)}, to_char(${tasks.dueDay}::timestamp, 'YYYY-MM-DD'))`,
  recurrence: recurrenceAnswer,
}

/** The columns a writable field is stored in, each bound by its column's name. */
export const storedColumnsOf = (field: string): PgColumn[] => STORED_IN[field] ?? [columnOf(field)]

/** What every statement returns: the answer's fields (never user_id), in the answer's order. */
export const answerColumns = Object.fromEntries(
  Object.keys(TaskModel.task.properties).map((field) => {
    if (ANSWERED_AS[field]) return [field, ANSWERED_AS[field]]
    const column = columnOf(field)
    return [field, column.getSQLType().startsWith('timestamp') ? iso(column) : column]
  }),
) as unknown as { [F in keyof Task]: SQL<Task[F]> }

/** A task as stored: the answer, plus the version behind its ETag. */
export type TaskRow = Task & { version: number }
export const rowColumns = { ...answerColumns, version: tasks.version }

/** The answer without the version, which travels in the ETag header instead. */
export function toTask({ version: _, ...task }: TaskRow): Task {
  return task
}

export const resource = { name: 'task', notFound: () => new TaskNotFound() }
