import { t } from 'elysia'
import { decimal, readDecimal } from './decimal'

// Ids are bigint in the database; JSON carries them exactly up to 2^53 - 1.
const id = decimal({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  error: `must be an id: an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
})

const userId = t.String({ description: "Must equal the token's sub." })

/**
 * The path parameters of a resource's routes: `/{id}`, or `/api/{user_id}/...`
 * aliases that name their owner (`ownerCollection` for the collection itself).
 */
export const IdParams = {
  id,
  plain: t.Object({ id }),
  owner: t.Object({ user_id: userId, id }),
  ownerCollection: t.Object({ user_id: userId }),
} as const

/** A resource's routes under one prefix: the path parameters of an item, and of the collection if it has any. */
export type PrefixParams =
  | { params: typeof IdParams.plain; collectionParams?: undefined }
  | { params: typeof IdParams.owner; collectionParams: typeof IdParams.ownerCollection }

export const PLAIN_PARAMS: PrefixParams = { params: IdParams.plain }
export const OWNER_PARAMS: PrefixParams = { params: IdParams.owner, collectionParams: IdParams.ownerCollection }

/** Reads a path's `id` as a number before validation (a wrong one is a 422 naming it). */
export function readIdParam(params: unknown): void {
  const path = params as Record<string, unknown> | undefined
  if (path?.id !== undefined) path.id = readDecimal('id', path.id, id)
}
