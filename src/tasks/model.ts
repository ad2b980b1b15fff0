import { t } from 'elysia'
import { decimal } from '../http/decimal'
import { text } from '../http/text'

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

// Strict ISO 8601 date-time with a zone; the calendar is checked by parseDueDate.
export const DUE_DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$'
const dueDate = t.Union([t.String({ format: 'date-time', pattern: DUE_DATE_PATTERN }), t.Null()], {
  error: 'must be an ISO 8601 date-time with a time zone, such as 2026-01-31T17:00:00Z, or null',
})

const tags = t.Array(text({ minLength: 1, maxLength: 40, error: 'must be 1 to 40 characters' }), {
  maxItems: 20,
  uniqueItems: true,
  error: 'must be at most 20 distinct strings of 1 to 40 characters',
})

const completed = t.Boolean({ error: 'must be true or false' })

const id = decimal({ minimum: 1, maximum: 2147483647, error: 'must be a task id: an integer from 1 to 2147483647' })

const timestamp = t.String({ format: 'date-time' })

// Answers are built field by field from an explicit column list (never
// user_id; toTask in queries.ts), so Elysia does not re-check them: that
// check and TypeBox's encode pass cost ~60 us per list of 50 and a `Date`
// per timestamp. The schema still documents the answer and types Eden.
const task = t.Object(
  {
    id: t.Integer(),
    title: t.String(),
    description: t.Union([t.String(), t.Null()]),
    completed: t.Boolean(),
    priority,
    due_date: t.Union([timestamp, t.Null()]),
    tags: t.Array(t.String()),
    created_at: timestamp,
    updated_at: timestamp,
  },
  { noValidate: true },
)

export const TaskModel = {
  task,
  taskList: t.Array(task, { noValidate: true }),
  create: t.Object({
    title,
    description: t.Optional(description),
    priority: t.Optional(priority),
    due_date: t.Optional(dueDate),
    tags: t.Optional(tags),
  }),
  update: t.Object(
    {
      title: t.Optional(title),
      description: t.Optional(description),
      completed: t.Optional(completed),
      priority: t.Optional(priority),
      due_date: t.Optional(dueDate),
      tags: t.Optional(tags),
    },
    { minProperties: 1, error: 'must set at least one of title, description, completed, priority, due_date, tags' },
  ),
  complete: t.Optional(
    t.Object(
      { completed },
      { description: 'Omit the body to toggle; send {completed} to set.', error: 'must be {completed: boolean} or empty' },
    ),
  ),
  listQuery: t.Object(
    {
      status: t.Optional(
        t.Union([t.Literal('all'), t.Literal('pending'), t.Literal('completed')], { error: 'must be one of all, pending, completed' }),
      ),
      priority: t.Optional(priority),
      tag: t.Optional(text({ minLength: 1, maxLength: 40, error: 'must be 1 to 40 characters' })),
      q: t.Optional(text({ maxLength: 200, error: 'must be at most 200 characters' })),
      sort: t.Optional(
        t.Union([t.Literal('created_at'), t.Literal('updated_at'), t.Literal('due_date'), t.Literal('priority'), t.Literal('title')], {
          error: 'must be one of created_at, updated_at, due_date, priority, title',
        }),
      ),
      order: t.Optional(t.Union([t.Literal('asc'), t.Literal('desc')], { error: 'must be asc or desc' })),
      limit: t.Optional(decimal({ minimum: 1, maximum: 1000, default: 100, error: 'must be an integer from 1 to 1000' })),
      offset: t.Optional(decimal({ minimum: 0, maximum: 2147483647, default: 0, error: 'must be an integer of at least 0' })),
    },
    // Unknown parameters (cache busters and the like) are ignored, not refused.
    { additionalProperties: true },
  ),
  id,
  idParams: t.Object({ id }),
  ownerIdParams: t.Object({ user_id: t.String({ description: "Must equal the token's sub." }), id }),
} as const

export type Task = typeof TaskModel.task.static
