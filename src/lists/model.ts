import { t } from 'elysia'
import { IdParams } from '../http/ids'
import { text } from '../http/text'

const name = text({
  minLength: 1,
  maxLength: 100,
  description: 'Trimmed before it is checked and stored.',
  error: 'must be 1 to 100 characters (after trimming)',
})

// Stored lower-cased (trimListInput), so two spellings of one colour compare equal.
const color = t.Union([t.String({ pattern: '^#[0-9a-fA-F]{6}$' }), t.Null()], {
  error: 'must be a colour as #rrggbb, or null',
})

const timestamp = t.String({ format: 'date-time' })

// Answers are read from an explicit column list (never user_id; queries.ts),
// so Elysia does not check them again on the way out, as for tasks.
const list = t.Object(
  {
    id: t.Integer(),
    name: t.String(),
    color: t.Union([t.String(), t.Null()]),
    is_default: t.Boolean(),
    position: t.String({ description: 'Opaque; sorts the lists in the order the user arranged them.' }),
    open_count: t.Integer({ description: 'Tasks of the list not completed, subtasks included.' }),
    created_at: timestamp,
    updated_at: timestamp,
  },
  { noValidate: true },
)

const writable = t.Object({ name, color })

export const ListModel = {
  list,
  lists: t.Array(list, { noValidate: true }),
  create: t.Object({ name, color: t.Optional(color) }),
  update: t.Partial(writable, {
    minProperties: 1,
    error: `must set at least one of ${Object.keys(writable.properties).join(', ')}`,
  }),
  move: t.Object(
    { after_id: t.Optional(IdParams.id), before_id: t.Optional(IdParams.id) },
    {
      minProperties: 1,
      maxProperties: 1,
      description: 'Exactly one: another list of the caller to place this one after, or before.',
      error: 'must set exactly one of after_id, before_id',
    },
  ),
  idParams: IdParams.plain,
  ownerIdParams: IdParams.owner,
} as const

export type List = typeof ListModel.list.static

/**
 * Before validation, at every entry point (the REST routes, the MCP tools):
 * the name is checked and stored trimmed, the colour lower-cased.
 */
export function trimListInput(input: unknown): void {
  const fields = input as { name?: unknown; color?: unknown } | undefined
  if (fields && typeof fields.name === 'string') fields.name = fields.name.trim()
  if (fields && typeof fields.color === 'string') fields.color = fields.color.toLowerCase()
}
