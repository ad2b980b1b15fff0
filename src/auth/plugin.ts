import { Elysia } from 'elysia'
import { Forbidden } from '../http/errors'
import type { BearerVerifier } from './tokens'

/**
 * Routes opt in with `{ auth: true }` and receive `userId`, the token's `sub`.
 * The token is verified once, in `transform`, which runs before validation:
 * an anonymous caller gets 401 before anything about the request's shape.
 * A `:user_id` path parameter must equal the token's subject (else 403).
 */
export function authPlugin(verifyBearer: BearerVerifier) {
  const userIds = new WeakMap<Request, string>()
  return new Elysia({ name: 'auth' }).macro({
    auth: {
      async transform({ request, params }) {
        const userId = await verifyBearer(request.headers.get('authorization') ?? undefined)
        // Routes such as /api/:user_id/tasks name their owner: only that user may use them.
        const named = (params as Record<string, string> | undefined)?.user_id
        if (named !== undefined && named !== userId) throw new Forbidden('The user id in the path is not the token subject')
        userIds.set(request, userId)
      },
      resolve: ({ request }) => ({ userId: userIds.get(request) as string }),
    },
  })
}
