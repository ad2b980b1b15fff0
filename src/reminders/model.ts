// A task's reminders: up to five, each either some minutes before the due
// date or at a moment. The body's shape is checked by the schema (each field
// named precisely in a 422); readReminders adds what a schema says badly.
import { t } from 'elysia'
import { ValidationFailed } from '../errors'
import { DATE_TIME_PATTERN, readDueDate } from '../tasks/due-dates'

export const MAX_REMINDERS = 5
// Four weeks.
export const MAX_BEFORE_MINUTES = 40_320

/** A reminder as stored and answered: `at` in UTC. */
export type Reminder = { before_minutes: number } | { at: string }

// One object with two optional keys rather than a union: TypeBox reports a
// union's failure on the element as a whole, this names the field at fault.
const reminder = t.Object(
  {
    before_minutes: t.Optional(
      t.Integer({
        minimum: 0,
        maximum: MAX_BEFORE_MINUTES,
        description: 'Minutes before the due date (a whole day counts from 09:00 of that day in your time zone)',
        error: `must be an integer from 0 to ${MAX_BEFORE_MINUTES} (minutes before the due date)`,
      }),
    ),
    at: t.Optional(
      t.String({
        pattern: DATE_TIME_PATTERN,
        examples: ['2026-01-31T16:30:00Z'],
        description: 'A moment, an ISO 8601 date-time with a zone; answered in UTC',
        error: 'must be an ISO 8601 date-time with a time zone (2026-01-31T16:30:00Z)',
      }),
    ),
  },
  { additionalProperties: false, error: 'must be {before_minutes} or {at}' },
)

export const reminders = t.Array(reminder, {
  maxItems: MAX_REMINDERS,
  description:
    `Up to ${MAX_REMINDERS}, each {before_minutes} (0 to ${MAX_BEFORE_MINUTES}, before due_date) or {at} (a date-time). ` +
    'Replaces the whole set. Each fires once, as an `event: reminder` on your live streams; one whose time has passed when it is set does not fire, ' +
    'nor one of a completed task. A relative reminder of a task without a due date waits until it has one.',
  error: `must be an array of at most ${MAX_REMINDERS} reminders, each {before_minutes} or {at}`,
})

/** The reminders as answered: `at` is always there for a moment, `before_minutes` for a relative one. */
export const answeredReminders = t.Array(
  t.Union([t.Object({ before_minutes: t.Integer() }), t.Object({ at: t.String({ format: 'date-time' }) })]),
)

/**
 * The body's reminders, shape already checked, as stored: exactly one key
 * each, `at` a real moment in UTC. Else a 422 naming the reminder.
 * Undefined when the body did not send them.
 */
export function readReminders(given: (typeof reminders.static)[number][] | undefined): Reminder[] | undefined {
  if (given === undefined) return undefined
  return given.map((item, index) => {
    const field = `reminders[${index}]`
    if (item.at !== undefined && item.before_minutes !== undefined)
      throw new ValidationFailed([{ field, message: 'must have one of before_minutes and at, not both' }])
    if (item.at !== undefined) return { at: readDueDate(`${field}.at`, item.at).moment!.toISOString() }
    if (item.before_minutes !== undefined) return { before_minutes: item.before_minutes }
    throw new ValidationFailed([{ field, message: 'must have before_minutes or at' }])
  })
}
