import { t } from 'elysia'
import { IdParams } from '../http/ids'
import { PagingQuery } from '../http/paging'
import { text } from '../http/text'
import { RecurrenceModel } from '../recurrence/model'
import { answeredReminders, reminders } from '../reminders/model'
import { timeZone } from '../settings/model'
import { spellZoneCanonically } from '../settings/time-zones'
import { DATE_PATTERN, DATE_TIME_PATTERN } from './due-dates'

// Literal unions, not t.UnionEnum: Elysia fills an optional UnionEnum with its
// first member, which would silently reset a field a PATCH did not mention.
const priority = t.Union([t.Literal('low'), t.Literal('medium'), t.Literal('high')], {
  error: 'must be one of low, medium, high',
})

const title = text({
  minLength: 1,
  maxLength: 200,
  description: 'Trimmed before it is checked and stored.',
  error: 'must be 1 to 200 characters (after trimming)',
})

const description = t.Union([text({ maxLength: 2000, error: 'must be at most 2000 characters' }), t.Null()], {
  error: 'must be a string of at most 2000 characters, or null',
})

// The shapes only: readDueDate (due-dates.ts) checks the calendar, and says
// which part is wrong (a format would refuse 2026-02-30 with this message).
const moment = t.String({ pattern: DATE_TIME_PATTERN, examples: ['2026-01-31T17:00:00Z'] })
const wholeDay = t.String({ pattern: DATE_PATTERN, examples: ['2026-01-31'] })
const dueDate = t.Union([moment, wholeDay, t.Null()], {
  description:
    'A moment (an ISO 8601 date-time with a zone; answered in UTC) or a whole day (YYYY-MM-DD; answered as sent, meaning that day in your time zone); null clears it.',
  error: 'must be an ISO 8601 date-time with a time zone (2026-01-31T17:00:00Z), a date (2026-01-31), or null',
})
const dueBound = (description: string) =>
  t.Union([moment, wholeDay], {
    description,
    error: 'must be an ISO 8601 date-time with a time zone (2026-01-31T17:00:00Z) or a date (2026-01-31)',
  })

const tags = t.Array(text({ minLength: 1, maxLength: 40, error: 'must be 1 to 40 characters' }), {
  maxItems: 20,
  uniqueItems: true,
  error: 'must be at most 20 distinct strings of 1 to 40 characters',
})

const completed = t.Boolean({ error: 'must be true or false' })

const timestamp = t.String({ format: 'date-time' })

// Ids in a body: another user's id is refused like a missing one (422), never 403.
const listId = IdParams.id
const parentId = t.Union([IdParams.id, t.Null()], { error: `must be a task id (1 to ${Number.MAX_SAFE_INTEGER}) or null` })

// Answers are read from an explicit column list (never user_id; queries.ts),
// so Elysia does not check them again on the way out, nor turn timestamps
// into Dates and back. The schema documents the answer and types Eden.
const task = t.Object(
  {
    id: t.Integer(),
    list_id: t.Integer(),
    parent_id: t.Union([t.Integer(), t.Null()]),
    position: t.String({ description: 'Orders a task among its siblings (same list, same parent); compare bytewise.' }),
    title: t.String(),
    description: t.Union([t.String(), t.Null()]),
    completed: t.Boolean(),
    priority,
    due_date: t.Union([timestamp, t.String({ format: 'date' }), t.Null()], {
      description: 'A moment, in UTC, or a whole day (YYYY-MM-DD, that day in your time zone), as it was given; or null.',
    }),
    tags: t.Array(t.String()),
    recurrence: RecurrenceModel.recurrence,
    reminders: answeredReminders,
    created_at: timestamp,
    updated_at: timestamp,
  },
  { noValidate: true },
)

// What a client may set; create takes them all but completed, title required.
// A task's list changes with its subtasks; its parent only through move.
const writable = t.Object({
  title,
  description,
  completed,
  priority,
  due_date: dueDate,
  tags,
  recurrence: RecurrenceModel.input,
  reminders,
  list_id: listId,
})

export const TaskModel = {
  task,
  taskList: t.Array(task, { noValidate: true }),
  create: t.Object({ title, ...t.Partial(t.Omit(writable, ['title', 'completed'])).properties, parent_id: t.Optional(parentId) }),
  update: t.Partial(writable, {
    minProperties: 1,
    error: `must set at least one of ${Object.keys(writable.properties).join(', ')}`,
  }),
  complete: t.Optional(
    t.Object(
      { completed },
      { description: 'Omit the body to toggle; send {completed} to set.', error: 'must be {completed: boolean} or empty' },
    ),
  ),
  move: t.Object(
    {
      list_id: t.Optional(listId),
      parent_id: t.Optional(parentId),
      after_id: t.Optional(IdParams.id),
      before_id: t.Optional(IdParams.id),
    },
    {
      minProperties: 1,
      description:
        'parent_id null moves to the top level; after_id/before_id name a sibling at the destination (with both, it goes right after after_id); without them, last.',
      error: 'must set at least one of list_id, parent_id, after_id, before_id',
    },
  ),
  listQuery: t.Object(
    {
      list_id: t.Optional(IdParams.id),
      parent_id: t.Optional(
        t.Union([t.Literal('none'), IdParams.id], { error: `must be none or a task id (1 to ${Number.MAX_SAFE_INTEGER})` }),
      ),
      status: t.Optional(
        t.Union([t.Literal('all'), t.Literal('pending'), t.Literal('completed')], { error: 'must be one of all, pending, completed' }),
      ),
      priority: t.Optional(priority),
      tag: t.Optional(text({ minLength: 1, maxLength: 40, error: 'must be 1 to 40 characters' })),
      q: t.Optional(text({ maxLength: 200, error: 'must be at most 200 characters' })),
      due: t.Optional(
        t.Union([t.Literal('overdue'), t.Literal('today'), t.Literal('tomorrow'), t.Literal('next_7_days'), t.Literal('no_date')], {
          description:
            'Days in your time zone (or tz): overdue (a moment before now, a whole day before today), today, tomorrow, next_7_days (today and the six days after), no_date.',
          error: 'must be one of overdue, today, tomorrow, next_7_days, no_date',
        }),
      ),
      due_after: t.Optional(dueBound('Due at or after this moment; a date means the start of that day in your time zone (or tz).')),
      due_before: t.Optional(dueBound('Due before this moment; a date means the start of that day in your time zone (or tz).')),
      tz: t.Optional(
        timeZone("An IANA time zone name: the days of due, due_after, due_before and sort=due_date are this zone's instead of yours."),
      ),
      sort: t.Optional(
        t.Union(
          [
            t.Literal('created_at'),
            t.Literal('updated_at'),
            t.Literal('due_date'),
            t.Literal('priority'),
            t.Literal('title'),
            t.Literal('position'),
          ],
          { error: 'must be one of created_at, updated_at, due_date, priority, title, position' },
        ),
      ),
      order: t.Optional(
        t.Union([t.Literal('asc'), t.Literal('desc')], { error: 'must be asc or desc', description: 'Default desc; asc for position.' }),
      ),
      ...PagingQuery,
    },
    // Unknown parameters (cache busters and the like) are ignored, not refused.
    { additionalProperties: true },
  ),
  idParams: IdParams.plain,
  ownerIdParams: IdParams.owner,
} as const

export type Task = typeof TaskModel.task.static

// What every entry point (the REST routes, the MCP tools) does to a task's
// input around validation, so both apply the same rules.

/** Before validation: the title is checked and stored trimmed. */
export function trimTaskInput(input: unknown): void {
  const fields = input as { title?: unknown } | undefined
  if (fields && typeof fields.title === 'string') fields.title = fields.title.trim()
}

/** Before validation: a `tz` filter the runtime knows is spelt canonically, so aliases and any case pass the check. */
export function canonicalListQuery(query: unknown): void {
  spellZoneCanonically(query, 'tz')
}
