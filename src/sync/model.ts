import { t } from 'elysia'
import { decimal } from '../http/decimal'
import { ListModel } from '../lists/model'
import { TaskModel } from '../tasks/model'

export const DEFAULT_SYNC_LIMIT = 500

const id = t.Integer({ description: 'The list or task id' })

// Answers are built from explicit column lists (queries.ts): not checked again on the way out.
const change = t.Union(
  [
    t.Object({ type: t.Literal('list'), op: t.Literal('upsert'), id, data: ListModel.list }),
    t.Object({ type: t.Literal('task'), op: t.Literal('upsert'), id, data: TaskModel.task }),
    t.Object({ type: t.Union([t.Literal('list'), t.Literal('task')]), op: t.Literal('delete'), id }),
  ],
  { description: 'One list or task in its latest state (data: as GET answers it), or its deletion' },
)

export const SyncModel = {
  // Unknown parameters (a cache buster) are ignored, as on the other reads.
  query: t.Object(
    {
      cursor: t.Optional(
        t.String({ description: 'From an earlier answer; without it, a full snapshot', error: 'is not a cursor this service gave you' }),
      ),
      limit: t.Optional(decimal({ minimum: 1, maximum: 1000, default: DEFAULT_SYNC_LIMIT, error: 'must be an integer from 1 to 1000' })),
    },
    { additionalProperties: true },
  ),
  answer: t.Object(
    {
      changes: t.Array(change),
      cursor: t.String({ description: 'Where the next sync starts (opaque)' }),
      has_more: t.Boolean({ description: 'More changes wait: sync again with this cursor' }),
    },
    { noValidate: true },
  ),
}
