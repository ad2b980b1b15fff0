// How a task's recurrence is kept in its row (src/db/schema.ts), for the
// task statements of src/tasks: the answer's field, the columns a write
// sets, and the series start that a new rule or due date resets.
import { type SQL, sql } from 'drizzle-orm'
import { constraintOf, sqlStateOf } from '../db/errors'
import { tasks } from '../db/schema'
import { ValidationFailed } from '../errors'
import { userTimeZone } from '../settings/zone'
import type { RecurrenceModel } from './model'
import { normalizeRule } from './rule'
import { givesAnyDate } from './schedule'

type Input = typeof RecurrenceModel.input.static

/** The answer's recurrence: null, or {rule, from}. */
export const recurrenceAnswer = sql<{ rule: string; from: 'due' | 'completion' } | null>`case when ${tasks.recurrenceRule} is null then null
  else json_build_object('rule', ${tasks.recurrenceRule}, 'from', ${tasks.recurrenceFrom}) end`

/** The columns a body's recurrence is stored in. */
export type RecurrenceColumns = { recurrence_rule: string | null; recurrence_from: 'due' | 'completion' | null }

/** A body's recurrence as the columns it sets (the rule checked and normalized); undefined when not sent. */
export function recurrenceColumns(value: Input | undefined): RecurrenceColumns | undefined {
  if (value === undefined) return undefined
  if (value === null) return { recurrence_rule: null, recurrence_from: null }
  const rule = normalizeRule(value.rule)
  if (!givesAnyDate(rule))
    throw new ValidationFailed([{ field: 'recurrence.rule', message: `${rule} gives no date (none in a century of its periods)` }])
  return { recurrence_rule: rule, recurrence_from: value.from ?? 'due' }
}

/** The task fields whose change starts a series again from the (new) due date. */
export const RESTARTING_FIELDS = ['due_date', 'recurrence']

/**
 * The series start a write gives a task whose series (re)starts: the wall
 * time of its due date in the user's zone now (a whole day's midnight). A
 * change of zone later leaves it as it is, so later occurrences keep their
 * time of day in the new zone. `dueSent`: the write binds the new due date
 * (the placeholders due_date and due_day); else the task keeps its own.
 */
export function seriesStart(dueSent: boolean): SQL {
  const moment = dueSent ? sql`${sql.placeholder('due_date')}::timestamptz` : sql`${tasks.dueDate}`
  const day = dueSent ? sql`${sql.placeholder('due_day')}::date` : sql`${tasks.dueDay}`
  return sql`coalesce((${moment}) at time zone ${userTimeZone(sql.placeholder('userId'))}, (${day})::timestamp)`
}

/** What a write sets when `changed` (its restarting columns changed): the series starts again at the due date. */
export function restartedSeries(changed: SQL, dueSent: boolean) {
  return {
    recurrenceStart: sql`case when ${changed} then ${seriesStart(dueSent)} else ${tasks.recurrenceStart} end`,
    recurrenceDone: sql`case when ${changed} then 0 else ${tasks.recurrenceDone} end`,
    recurrenceCounted: sql`case when ${changed} then 0 else ${tasks.recurrenceCounted} end`,
  }
}

const NEEDS_DUE = 'tasks_recurrence_needs_due'

/**
 * The 422 for a write the database refused because it would leave a
 * recurring task without a due date: naming recurrence when the write set
 * one, else due_date (cleared on a task that recurs). Undefined for any other error.
 */
export function refusedWithoutDue(error: unknown, changes: Partial<RecurrenceColumns>): ValidationFailed | undefined {
  if (sqlStateOf(error) !== '23514' || constraintOf(error) !== NEEDS_DUE) return undefined
  if (changes.recurrence_rule)
    return new ValidationFailed([{ field: 'recurrence', message: 'a recurring task needs a due_date: send one with it' }])
  return new ValidationFailed([
    {
      field: 'due_date',
      message: 'cannot be cleared while the task recurs: send recurrence: null with it to stop the repetition',
    },
  ])
}
