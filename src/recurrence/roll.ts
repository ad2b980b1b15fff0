// Completing a recurring task: the completion is recorded and the same task
// moves to its next occurrence, reopened with its subtasks, inside the
// transaction that completed it (it holds the user's lock, so the task's
// feed position moves like any write's).
import { and, eq, sql } from 'drizzle-orm'
import { preparedIn, type Transaction } from '../db/operations'
import { owned } from '../db/ownership'
import { taskCompletions, tasks, userSettings } from '../db/schema'
import { scheduleReminders } from '../reminders/schedule'
import { DEFAULT_TIME_ZONE } from '../settings/model'
import { stamp } from '../sync/feed'
import { rowColumns, type TaskRow } from '../tasks/columns'
import { reopenDescendants } from '../tasks/tree'
import { type From, nextOccurrence, type Series } from './schedule'

const placeholder = (name: string) => sql.placeholder(name)

// Read in SQL so that JavaScript never sees a Date: the wall time as text, the due date as answered.
export const seriesColumns = {
  rule: tasks.recurrenceRule,
  from: tasks.recurrenceFrom,
  start: sql<string | null>`to_char(${tasks.recurrenceStart}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`,
  done: tasks.recurrenceDone,
  moment: sql<string | null>`to_char(${tasks.dueDate} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  day: sql<string | null>`to_char(${tasks.dueDay}, 'YYYY-MM-DD')`,
  listId: tasks.listId,
  zone: sql<string>`coalesce((select ${userSettings.timeZone} from ${userSettings} where ${userSettings.userId} = ${placeholder('userId')}), ${DEFAULT_TIME_ZONE})`,
}

type SeriesRow = {
  rule: string | null
  from: string | null
  start: string | null
  done: number
  moment: string | null
  day: string | null
  zone: string
}

/** The task's series as schedule.ts takes it, or undefined when it does not recur (or has no due date). */
export function seriesOf(row: SeriesRow): Series | undefined {
  if (!row.rule || !row.from) return undefined
  const due = row.moment ? { moment: row.moment } : row.day ? { day: row.day } : undefined
  if (!due) return undefined
  return { rule: row.rule, from: row.from as From, start: row.start, done: row.done, due, zone: row.zone }
}

/** The series of task `id`, with what a completion needs besides: the task's list. */
export async function readSeries(tx: Transaction, userId: string, id: number): Promise<(Series & { listId: number }) | undefined> {
  const [row] = await preparedIn(tx, 'recurrence_series', (name) =>
    tx.select(seriesColumns).from(tasks).where(owned(tasks)).prepare(name),
  ).execute({ userId, id })
  const series = row && seriesOf(row)
  return series && { ...series, listId: row.listId }
}

/**
 * After task `id` was marked completed in this transaction: when it recurs,
 * records the completion and moves it to its next occurrence, reopened with
 * its subtasks, and answers it as it now is. Undefined when it does not
 * recur, or when its series has ended: it then stays completed (the
 * completion of a series' last occurrence is recorded too).
 */
export async function rollForward(tx: Transaction, userId: string, id: number, now: Date): Promise<TaskRow | undefined> {
  const series = await readSeries(tx, userId, id)
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
        version: sql`${tasks.version} + 1`,
        updatedAt: sql`now()`,
        changePosition: stamp(placeholder('userId')),
      })
      .where(and(eq(tasks.userId, placeholder('userId')), eq(tasks.id, placeholder('id'))))
      .returning(rowColumns)
      .prepare(name),
  ).execute({ userId, id, moment: next.due.moment ?? null, day: next.due.day ?? null, start: next.start })
  // Relative reminders fire again for the new occurrence.
  await scheduleReminders(tx, userId, [id], now)
  await reopenDescendants(tx, userId, series.listId, id)
  return row
}
