import { t } from 'elysia'
import { decimal, readDecimal } from '../http/decimal'
import { text } from '../http/text'

const from = t.Union([t.Literal('due'), t.Literal('completion')], {
  description:
    'due (the default): the next due date follows the schedule; completion: it counts from when the task is completed (FREQ=DAILY;INTERVAL=3: three days after).',
  error: 'must be due or completion',
})

// Text, not t.String: NUL and unpaired surrogates are refused before the rule is read.
const rule = text({
  minLength: 1,
  maxLength: 500,
  description:
    'An RFC 5545 RRULE value such as FREQ=WEEKLY;BYDAY=MO,WE or FREQ=MONTHLY;BYDAY=-1FR (an RRULE: prefix is accepted) of FREQ (DAILY, WEEKLY, MONTHLY, YEARLY), INTERVAL, BYDAY (ordinals such as -1FR for monthly and yearly: 1 to 5 in a month, 1 to 52 in a year), ' +
    'BYMONTHDAY (negative counts from the month end), BYMONTH, BYSETPOS, COUNT, UNTIL (a date, or a date-time in UTC). Answered normalized.',
  error: 'must be an RRULE value of 1 to 500 characters',
})

const timestamp = t.String({ format: 'date-time' })
const dueDate = t.Union([timestamp, t.String({ format: 'date' })], {
  description: 'A moment in UTC, or a whole day (YYYY-MM-DD), as the task has it.',
})

export const RecurrenceModel = {
  /** What a task is written with: null stops the repetition. */
  input: t.Union([t.Object({ rule, from: t.Optional(from) }, { additionalProperties: false }), t.Null()], {
    description:
      'null, or {rule, from}: the task repeats. It needs a due_date, which starts the series (changing the rule or the due date starts it again). ' +
      'Completing it records a completion and moves it to its next due date, reopened with its subtasks.',
    error: 'must be {rule, from} (from: due or completion) or null',
  }),
  /** What a task answers. */
  recurrence: t.Union([t.Object({ rule: t.String(), from }), t.Null()], {
    description: 'null, or how the task repeats: the rule as stored (normalized), and what the next due date counts from.',
  }),
  completions: t.Array(t.Object({ completed_at: timestamp, due_date: dueDate }, { description: 'One completion of a recurring task' }), {
    noValidate: true,
  }),
  occurrencesQuery: t.Object(
    { limit: t.Optional(decimal({ minimum: 1, maximum: 100, default: 10, error: 'must be an integer from 1 to 100' })) },
    { additionalProperties: true },
  ),
  occurrences: t.Object(
    {
      occurrences: t.Array(dueDate, {
        description:
          'The next due dates after the current one, as the task would take them if each were completed on its due date; fewer when the series ends, none for a task that does not recur.',
      }),
    },
    { noValidate: true },
  ),
} as const

/** Reads occurrences' `limit` as a number before validation (a wrong one is a 422 naming it). */
export function readOccurrencesLimit(query: unknown): void {
  const fields = query as Record<string, unknown> | undefined
  if (fields?.limit !== undefined) fields.limit = readDecimal('limit', fields.limit, RecurrenceModel.occurrencesQuery.properties.limit)
}
