import { Elysia } from 'elysia'
import { Forbidden } from '../errors'
import type { Identity, Tokens } from './tokens'

/**
 * Routes opt in with `{ auth: true }` and receive `userId` (the token's `sub`)
 * and `identity` (with the email/name claims, when present).
 *
 * The token comes before anything else about the request: it is verified in
 * the first hook Elysia runs for the route, `parse` when the request may carry
 * a body (before any body parser) and `transform` otherwise (before
 * validation), then kept for `resolve`. A group that reads bodies registers
 * its parser after `.guard({ auth: true })`, so the body of a request with a
 * missing or invalid token is never read (401). A `:user_id` path parameter
 * must equal the token's subject (else 403).
 */
export function authPlugin(tokens: Pick<Tokens, 'verifyBearer'>) {
  const identities = new WeakMap<Request, Identity>()

  function admit(request: Request, params: unknown, identity: Identity): undefined {
    // Routes such as /api/:user_id/tasks name their owner: only that user may use them.
    const named = (params as Record<string, string> | undefined)?.user_id
    if (named !== undefined && named !== identity.userId) throw new Forbidden('The user id in the path is not the token subject')
    identities.set(request, identity)
  }

  // Synchronous for a token already verified (most requests); a promise otherwise.
  // Returns undefined, so that as a parse hook it lets the body parser run next.
  function authenticate({ request, params }: { request: Request; params: unknown }): undefined | Promise<undefined> {
    if (identities.has(request)) return
    const identity = tokens.verifyBearer(request.headers.get('authorization') ?? undefined)
    if (identity instanceof Promise) return identity.then((verified) => admit(request, params, verified))
    return admit(request, params, identity)
  }

  return new Elysia({ name: 'auth' }).macro({
    auth: {
      parse: authenticate,
      transform: authenticate,
      resolve: ({ request }) => {
        const identity = identities.get(request) as Identity
        return { userId: identity.userId, identity }
      },
    },
  })
}
