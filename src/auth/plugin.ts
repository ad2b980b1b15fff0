import { Elysia } from 'elysia'
import { Forbidden } from '../errors'
import type { Identity, Tokens } from './tokens'

/**
 * Routes opt in with `{ auth: true }` and receive `userId` (the token's `sub`)
 * and `identity` (with the email/name claims, when present).
 * The token is verified once, in `transform`, which runs before validation:
 * an anonymous caller gets 401 before anything about the request's shape.
 * A `:user_id` path parameter must equal the token's subject (else 403).
 */
export function authPlugin(tokens: Pick<Tokens, 'verifyBearer'>) {
  const identities = new WeakMap<Request, Identity>()
  return new Elysia({ name: 'auth' }).macro({
    auth: {
      async transform({ request, params }) {
        const identity = await tokens.verifyBearer(request.headers.get('authorization') ?? undefined)
        // Routes such as /api/:user_id/tasks name their owner: only that user may use them.
        const named = (params as Record<string, string> | undefined)?.user_id
        if (named !== undefined && named !== identity.userId) throw new Forbidden('The user id in the path is not the token subject')
        identities.set(request, identity)
      },
      resolve: ({ request }) => {
        const identity = identities.get(request) as Identity
        return { userId: identity.userId, identity }
      },
    },
  })
}
