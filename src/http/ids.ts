import { t } from 'elysia'
import { decimal, readDecimal } from './decimal'

// Ids are bigint in the database; JSON carries them exactly up to 2^53 - 1.
const id = decimal({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  error: `must be an id: an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
})

/** The path parameters of a resource's routes: `/{id}`, or `/api/{user_id}/...` aliases that name their owner. */
export const IdParams = {
  id,
  plain: t.Object({ id }),
  owner: t.Object({ user_id: t.String({ description: "Must equal the token's sub." }), id }),
} as const

/** Reads a path's `id` as a number before validation (a wrong one is a 422 naming it). */
export function readIdParam(params: unknown): void {
  const path = params as Record<string, unknown> | undefined
  if (path?.id !== undefined) path.id = readDecimal('id', path.id, id)
}
