// Completing a recurring task: the completion is recorded and the same task
// moves to its next occurrence, reopened with its subtasks, inside the
// transaction that completed it (it holds the user's lock, so the task's
// feed position moves like any write's).
import { and, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared, preparedIn, type Transaction } from '../db/operations'
import { owned } from '../db/ownership'
import { taskCompletions, tasks } from '../db/schema'
import { scheduleReminders } from '../reminders/schedule'
import { userTimeZone } from '../settings/zone'
import { stamp } from '../sync/feed'
import { iso, rowColumns, type TaskRow } from '../tasks/columns'
import { reopenDescendants } from '../tasks/tree'
import { type From, nextOccurrence, type Series } from './schedule'

const placeholder = (name: string) => sql.placeholder(name)

// Read in SQL so that JavaScript never sees a Date: the due date as answered,
// and the series start's wall time as milliseconds from 1970-01-01T00:00 (a
// text of it would need a sign and an era for the years before 1 and after 9999).
const seriesColumns = {
  rule: tasks.recurrenceRule,
  from: tasks.recurrenceFrom,
  startMs: sql<number | null>`(extract(epoch from ${tasks.recurrenceStart}) * 1000)::float8`,
  done: tasks.recurrenceDone,
  counted: tasks.recurrenceCounted,
  moment: iso(tasks.dueDate),
  day: sql<string | null>`to_char(${tasks.dueDay}, 'YYYY-MM-DD')`,
  listId: tasks.listId,
  zone: userTimeZone(placeholder('userId')),
}

type SeriesRow = {
  rule: string | null
  from: string | null
  startMs: number | null
  done: number
  counted: number
  moment: string | null
  day: string | null
  zone: string
}

/** The task's series as schedule.ts takes it, or undefined when it does not recur (or has no due date). */
function seriesOf(row: SeriesRow): Series | undefined {
  if (!row.rule || !row.from) return undefined
  const due = row.moment ? { moment: row.moment } : row.day ? { day: row.day } : undefined
  if (!due) return undefined
  const start =
    row.startMs === null ? null : Temporal.Instant.fromEpochMilliseconds(row.startMs).toZonedDateTimeISO('UTC').toPlainDateTime()
  return { rule: row.rule, from: row.from as From, start, done: row.done, counted: row.counted, due, zone: row.zone }
}

type Found = { series: (Series & { listId: number }) | undefined }
const SERIES = 'recurrence_series'
const selectSeries = (db: Database | Transaction) => (name: string) =>
  db.select(seriesColumns).from(tasks).where(owned(tasks)).prepare(name)

async function found(
  read: { execute(values: Record<string, unknown>): Promise<(SeriesRow & { listId: number })[]> },
  userId: string,
  id: number,
): Promise<Found | undefined> {
  const [row] = await read.execute({ userId, id })
  if (!row) return undefined
  const series = seriesOf(row)
  return { series: series && { ...series, listId: row.listId } }
}

/** The user's task `id`: its series when it recurs (with its list); undefined when it is not the user's. */
export const findSeries = (db: Database, userId: string, id: number) => found(prepared(db, SERIES, selectSeries(db)), userId, id)

/** The same, inside a transaction. */
const findSeriesIn = (tx: Transaction, userId: string, id: number) => found(preparedIn(tx, SERIES, selectSeries(tx)), userId, id)

/**
 * After task `id` was marked completed in this transaction: when it recurs,
 * records the completion and moves it to its next occurrence, reopened with
 * its subtasks, and answers it as it now is. Undefined when it does not
 * recur, or when its series has ended: it then stays completed (the
 * completion of a series' last occurrence is recorded too).
 */
export async function rollForward(tx: Transaction, userId: string, id: number, now: Date): Promise<TaskRow | undefined> {
  const series = (await findSeriesIn(tx, userId, id))?.series
  if (!series) return undefined
  await preparedIn(tx, 'recurrence_record_completion', (name) =>
    tx
      .insert(taskCompletions)
      .values({
        userId: placeholder('userId') as unknown as string,
        taskId: placeholder('id') as unknown as number,
        completedAt: placeholder('completedAt') as unknown as string,
        dueDate: placeholder('moment') as unknown as string,
        dueDay: placeholder('day') as unknown as string,
      })
      .prepare(name),
  ).execute({ userId, id, completedAt: now.toISOString(), moment: series.due.moment ?? null, day: series.due.day ?? null })
  const next = nextOccurrence(series, now)
  if (!next) return undefined
  // This is where a recurring task's due date changes on completion.
  const [row] = await preparedIn(tx, 'recurrence_roll_forward', (name) =>
    tx
      .update(tasks)
      .set({
        completed: false,
        dueDate: sql`${placeholder('moment')}::timestamptz`,
        dueDay: sql`${placeholder('day')}::date`,
        recurrenceStart: sql`${placeholder('start')}::timestamp`,
        recurrenceDone: sql`${tasks.recurrenceDone} + 1`,
        recurrenceCounted: sql`${placeholder('counted')}::int`,
        version: sql`${tasks.version} + 1`,
        updatedAt: sql`now()`,
        changePosition: stamp(placeholder('userId')),
      })
      .where(and(eq(tasks.userId, placeholder('userId')), eq(tasks.id, placeholder('id'))))
      .returning(rowColumns)
      .prepare(name),
  ).execute({ userId, id, moment: next.due.moment ?? null, day: next.due.day ?? null, start: next.start.toString(), counted: next.counted })
  // Relative reminders fire again for the new occurrence.
  await scheduleReminders(tx, userId, [id], now)
  await reopenDescendants(tx, userId, series.listId, id)
  return row
}
