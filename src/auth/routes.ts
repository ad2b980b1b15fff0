import { isIP } from 'node:net'
import type { Server } from 'bun'
import { Elysia } from 'elysia'
import type { Database } from '../db/client'
import { BODY_ERRORS, errorsFor, IDEMPOTENT_WRITE_ERRORS } from '../http/errors'
import { parseJsonBody } from '../http/json-body'
import type { Logger } from '../http/logger'
import { WriteHeaders } from '../http/preconditions'
import { idempotency } from '../idempotency/plugin'
import { createAccount, deleteAccount, findAccountByEmail, getAccount } from './accounts'
import { InvalidCredentials } from './errors'
import { AuthModel } from './model'
import { hashPassword, prepareDummyHash, verifyPassword } from './passwords'
import type { authPlugin } from './plugin'
import { createRateLimiter, type RateLimit } from './rate-limit'
import type { Tokens } from './tokens'

export interface AuthLimits {
  signup: RateLimit
  signin: RateLimit
  /** The limiters' clock; tests move it to see a bucket refill. */
  now?: () => number
}

// A person signs up once and mistypes a password a few times; a guesser needs
// thousands of tries. Per client address, across every instance on the database.
export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  signup: { burst: 5, refillSeconds: 12 * 60 }, // 5 at once, then 5 an hour
  signin: { burst: 10, refillSeconds: 30 }, // 10 at once, then 2 a minute
}

/**
 * The client's address: the socket's, or behind `trustProxy` proxies the entry
 * they appended to X-Forwarded-For. An entry that is not an IP address (a
 * proxy that passes the header through lets the client write it) is not
 * trusted: it would key the rate limit with whatever the client chose.
 */
function clientAddress(request: Request, socketAddress: string | undefined, trustProxy: number): string {
  if (trustProxy > 0) {
    const forwarded =
      request.headers
        .get('x-forwarded-for')
        ?.split(',')
        .map((part) => part.trim()) ?? []
    const entry = forwarded[forwarded.length - trustProxy]
    if (entry && isIP(entry)) return entry
  }
  return socketAddress ?? 'unknown'
}

function normaliseEmail(body: unknown) {
  const input = body as { email?: unknown } | undefined
  if (input && typeof input.email === 'string') input.email = input.email.trim().toLowerCase()
}

export interface AuthRoutesDeps {
  db: Database
  tokens: Tokens
  auth: ReturnType<typeof authPlugin>
  limits: AuthLimits
  logger: Logger
  /** Proxies whose X-Forwarded-For entries name the client (0: the socket's address). */
  trustProxy: number
  /** Told after an account is deleted: its live streams end. */
  onAccountDeleted?: (userId: string) => void
}

export function authRoutes({ db, tokens, auth, limits, logger, trustProxy, onAccountDeleted }: AuthRoutesDeps) {
  const limitSignup = createRateLimiter(db, 'signup', limits.signup, limits.now)
  const limitSignin = createRateLimiter(db, 'signin', limits.signin, limits.now)
  prepareDummyHash()

  // Counted before the body is read (the first parse hook) or, for a request
  // without one, before validation: every attempt counts, failed or not, once.
  const counted = new WeakSet<Request>()
  const countAttempt =
    (take: (address: string) => Promise<void>) =>
    async ({ request, server }: { request: Request; server: Server<unknown> | null }): Promise<undefined> => {
      if (counted.has(request)) return
      counted.add(request)
      await take(clientAddress(request, server?.requestIP(request)?.address, trustProxy))
    }
  const normalise = ({ body }: { body: unknown }) => normaliseEmail(body)

  async function session(account: { id: string; email: string; name: string | null; created_at: string }) {
    const { token, expiresAt } = await tokens.issue(account)
    return { token, token_type: 'bearer' as const, expires_at: expiresAt.toISOString(), user: account }
  }

  return (
    new Elysia({ prefix: '/api/auth', tags: ['auth'] })
      .use(auth)
      .post(
        '/signup',
        async ({ body, set }) => {
          const account = await createAccount(db, {
            email: body.email,
            name: body.name?.trim() || null,
            passwordHash: await hashPassword(body.password),
          })
          set.status = 201
          return session(account)
        },
        {
          transform: [countAttempt(limitSignup), normalise],
          // The JSON parser reads the body; 'json' after it only names the media
          // type in the OpenAPI document (the parser always answers first).
          parse: [countAttempt(limitSignup), parseJsonBody, 'json'],
          body: AuthModel.signup,
          response: { 201: AuthModel.session, ...BODY_ERRORS, ...errorsFor(422, 429, 500, 503) },
          detail: { summary: 'Create an account', description: 'Rate limited per client address (429 with Retry-After).', security: [] },
        },
      )
      .post(
        '/signin',
        async ({ body }) => {
          const account = await findAccountByEmail(db, body.email)
          // Unknown email or wrong password: the same hash work, the same answer.
          if (!(await verifyPassword(body.password, account?.passwordHash)) || !account) throw new InvalidCredentials()
          const { passwordHash: _, ...publicAccount } = account
          return session(publicAccount)
        },
        {
          transform: [countAttempt(limitSignin), normalise],
          parse: [countAttempt(limitSignin), parseJsonBody, 'json'],
          body: AuthModel.signin,
          response: { 200: AuthModel.session, ...BODY_ERRORS, ...errorsFor(401, 422, 429, 500, 503) },
          detail: { summary: 'Sign in', description: 'Rate limited per client address (429 with Retry-After).', security: [] },
        },
      )
      // The routes below need a token: checked first, then any body is read.
      .guard({ auth: true })
      .use(idempotency(db, logger))
      .onParse(parseJsonBody)
      .get(
        '/me',
        async ({ identity }) => {
          const account = await getAccount(db, identity.userId)
          if (account) return account
          // A Better Auth user has no local account: what the token says.
          return { id: identity.userId, email: identity.email, name: identity.name }
        },
        { response: { 200: AuthModel.me, ...errorsFor(401, 500, 503) }, detail: { summary: 'The signed-in user' } },
      )
      .delete(
        '/me',
        async ({ userId, set }) => {
          await deleteAccount(db, userId)
          onAccountDeleted?.(userId)
          set.status = 204
        },
        {
          headers: WriteHeaders,
          response: { 204: AuthModel.none, ...errorsFor(401, 500, 503), ...IDEMPOTENT_WRITE_ERRORS },
          detail: { summary: 'Delete the account (if any) and all of its tasks, in one transaction' },
        },
      )
  )
}
