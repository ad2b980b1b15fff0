// The tools' arguments and answers, built from the REST models' own fields
// (src/tasks/model.ts, src/lists/model.ts), so a tool accepts exactly what
// the route accepts and answers what the route answers. TypeBox schemas are
// JSON Schema: tools/list shows them with only TypeBox's own annotations
// taken out.
import { type TSchema, t } from 'elysia'
import { IdParams } from '../http/ids'
import { KEY, KEY_RULE } from '../idempotency/once'
import { ListModel } from '../lists/model'
import { TaskModel } from '../tasks/model'

const userId = t.Optional(
  t.String({
    description:
      "The id of the signed-in user (the token's subject). Optional: the tools always act for the signed-in user, and a different id is an error.",
    error: 'must be a string',
  }),
)

const idempotencyKey = t.Optional(
  t.String({
    pattern: KEY.source,
    description:
      'Optional. Any unique string (a UUID) for this write: calling again with the same key and the same arguments, within 24 hours, returns the first result without writing again. Send one when you may retry.',
    error: KEY_RULE,
  }),
)

export const taskId = { ...IdParams.id, description: 'The id of one of your tasks, as add_task or list_tasks return it.' }

/** A tool's arguments: `fields`, plus user_id (and idempotency_key for a write); nothing else is accepted. */
export function toolArguments<P extends Record<string, TSchema>>(fields: P) {
  return t.Object({ ...fields, user_id: userId }, { additionalProperties: false })
}
export function writeArguments<P extends Record<string, TSchema>>(fields: P) {
  return t.Object({ ...fields, user_id: userId, idempotency_key: idempotencyKey }, { additionalProperties: false })
}

/** What the tools answer as structured content: the REST answers, each in an object. */
export const Answers = {
  task: TaskModel.task,
  tasks: t.Object({
    tasks: TaskModel.taskList,
    total: t.Integer({ description: 'How many tasks match the filters, before limit and offset' }),
  }),
  deleted: t.Object({ task_id: t.Integer(), deleted: t.Literal(true) }),
  list: ListModel.list,
  lists: t.Object({ lists: ListModel.lists }),
}

// TypeBox's annotations that are not JSON Schema: the 422 wording and the
// note that an answer is not validated on its way out.
const TYPEBOX_ONLY = new Map([
  ['error', 'string'],
  ['noValidate', 'boolean'],
])

// Elysia's t.Integer also accepts the integer as a string (for paths and
// queries): in an answer's schema that branch would tell a client an id may
// be a string, which no answer holds.
const isNumericString = (schema: { type?: unknown; format?: unknown }) =>
  schema.type === 'string' && (schema.format === 'integer' || schema.format === 'numeric')

function plain(keyword: string, value: any): unknown {
  if (typeof value === TYPEBOX_ONLY.get(keyword)) return undefined
  if (Array.isArray(value?.anyOf) && value.anyOf.some(isNumericString)) {
    const { anyOf, ...rest } = value
    const kept = anyOf.filter((branch: object) => !isNumericString(branch))
    return kept.length === 1 ? { ...rest, ...kept[0] } : { ...rest, anyOf: kept }
  }
  return value
}

/** The schema as JSON Schema for tools/list: TypeBox's symbols and annotations, and Elysia's coercions, dropped. */
export function jsonSchema(schema: TSchema): { type: 'object'; [keyword: string]: unknown } {
  return JSON.parse(JSON.stringify(schema), plain)
}
