import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { createApp } from '../src/app'
import { eventTickets, idempotencyKeys, tasks, users } from '../src/db/schema'
import {
  call,
  database,
  expectNoLeak,
  expectUnauthenticated,
  logger,
  logLines,
  type Reply,
  randomAddress,
  randomEmail,
  signUp,
  type TestApp,
  testConfig,
  tokenFor,
  userId,
  validationError,
} from './support'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const WEEK = 7 * 24 * 60 * 60
const INVALID_CREDENTIALS = { detail: 'Invalid email or password', code: 'invalid_credentials' }
const EMAIL_TAKEN = { detail: 'Email already registered', code: 'email_taken' }

// Every password this file sends: none may appear in a response or a log line.
const passwords = new Set<string>(['correct horse battery'])

/** Nothing secret or internal in a response: no password, no hash, no stack or SQL. */
function expectClean(reply: Reply) {
  expectNoLeak(reply.text)
  // A 422 may name the refused field; nothing else ever says password_hash.
  if (reply.status !== 422) expect(reply.text).not.toContain('password_hash')
  expect(reply.text).not.toContain('$argon2')
  for (const password of passwords) expect(reply.text).not.toContain(password)
}

async function register(body: Record<string, unknown> = {}, from = randomAddress()) {
  if (typeof body.password === 'string') passwords.add(body.password)
  const result = await signUp(body, from)
  expectClean(result.reply)
  return result
}

/** Exactly this body to /api/auth/{signup,signin}, from an address of its own unless told. */
async function post(path: 'signup' | 'signin', body: Record<string, unknown>, from = randomAddress(), on?: TestApp) {
  if (typeof body.password === 'string') passwords.add(body.password)
  const reply = await call('POST', `/api/auth/${path}`, { body, headers: { 'x-forwarded-for': from }, on })
  expectClean(reply)
  return reply
}
const signIn = (body: Record<string, unknown>, from?: string, on?: TestApp) => post('signin', body, from, on)

/** A 201/200 session as the contract wants it, and its token: HS256, sub/email/name, exp = iat + 7 days = expires_at. */
function expectSession(reply: Reply, status: number, user: { email: string; name: string | null }) {
  expect(reply.status).toBe(status)
  expect(reply.body).toEqual({
    token: expect.any(String),
    token_type: 'bearer',
    expires_at: expect.stringMatching(ISO),
    user: { id: expect.stringMatching(UUID), email: user.email, name: user.name, created_at: expect.stringMatching(ISO) },
  })
  expect(decodeProtectedHeader(reply.body.token).alg).toBe('HS256')
  const claims = decodeJwt(reply.body.token)
  expect(claims).toMatchObject({ sub: reply.body.user.id, email: user.email, name: user.name })
  expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(60)
  expect(claims.exp! - claims.iat!).toBe(WEEK)
  expect(reply.body.expires_at).toBe(new Date(claims.exp! * 1000).toISOString())
  return claims
}

const countUsers = async (email: string) => (await database.db.select().from(users).where(eq(users.email, email))).length
const countTasks = async (id: string) => (await database.db.select().from(tasks).where(eq(tasks.userId, id))).length
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

describe('POST /api/auth/signup', () => {
  test('201 session; email trimmed and lower-cased; the 7-day HS256 token works on the task routes', async () => {
    const email = randomEmail('Ada.Lovelace')
    const { reply } = await register({ email: `  ${email.toUpperCase()}  `, password: 'signup-pw-Ada-1815', name: 'Ada Lovelace' })
    expectSession(reply, 201, { email: email.toLowerCase(), name: 'Ada Lovelace' })
    expect(await countUsers(email.toLowerCase())).toBe(1)
    const token = reply.body.token
    const created = await call('POST', '/api/tasks', { token, body: { title: 'First' } })
    expect([created.status, created.body]).toEqual([201, expect.objectContaining({ title: 'First', completed: false })])
    const list = await call('GET', '/api/tasks', { token })
    expect([list.status, list.body]).toEqual([200, [created.body]])
  })

  test('name is optional: null in the user and in the token when absent', async () => {
    const { reply, sent } = await register()
    expectSession(reply, 201, { email: sent.email, name: null })
  })

  test('with JWT_ISSUER and JWT_AUDIENCE, tokens carry iss and aud and that app accepts them', async () => {
    const strict = await createApp({
      database,
      config: testConfig({ JWT_ISSUER: 'https://todo.test', JWT_AUDIENCE: 'todo-frontend' }),
      logger,
    })
    const email = randomEmail('iss')
    const reply = await post('signup', { email, password: 'issuer-pw-77' }, randomAddress(), strict)
    const claims = expectSession(reply, 201, { email, name: null })
    expect(claims).toMatchObject({ iss: 'https://todo.test', aud: 'todo-frontend' })
    const me = await call('GET', '/api/auth/me', { on: strict, token: reply.body.token })
    expect([me.status, me.body]).toEqual([200, reply.body.user])
    const withoutIss = await call('GET', '/api/auth/me', { on: strict, token: await tokenFor(reply.body.user.id) })
    expect(withoutIss.status).toBe(401)
    expect(withoutIss.body).toEqual({ detail: expect.stringContaining('iss'), code: 'token_invalid' })
  })

  test('an email already registered, in another case or with spaces, is 400 email_taken', async () => {
    const { reply, sent } = await register({ email: randomEmail('dup') })
    expect(reply.status).toBe(201)
    for (const email of [sent.email.toUpperCase(), `  ${sent.email}\t`]) {
      const { reply: again } = await register({ email, password: 'another-password' })
      expect([again.status, again.body]).toEqual([400, EMAIL_TAKEN])
    }
    expect(await countUsers(sent.email)).toBe(1)
  })

  test('5 concurrent signups of one email: exactly one 201, the others 400, never 500', async () => {
    const email = randomEmail('race')
    const replies = await Promise.all(Array.from({ length: 5 }, () => register({ email })))
    expect(replies.map((r) => r.reply.status).sort()).toEqual([201, 400, 400, 400, 400])
    for (const { reply } of replies) {
      if (reply.status === 201) expectSession(reply, 201, { email, name: null })
      else expect(reply.body).toEqual(EMAIL_TAKEN)
    }
    expect(await countUsers(email)).toBe(1)
  })
})

describe('signup validation', () => {
  const emoji = (n: number) => '🔑'.repeat(n)
  const rejected: { name: string; body: Record<string, unknown>; field: string }[] = [
    { name: 'a missing email', body: { email: undefined }, field: 'email' },
    { name: 'an email that is not a string', body: { email: 42 }, field: 'email' },
    { name: 'an email without @', body: { email: 'ada.example.com' }, field: 'email' },
    { name: 'an email with a space inside', body: { email: 'ada lovelace@example.com' }, field: 'email' },
    { name: 'an email with two @', body: { email: 'ada@lab@example.com' }, field: 'email' },
    { name: 'an email of 255 characters', body: { email: `${'a'.repeat(243)}@example.com` }, field: 'email' },
    { name: 'a missing password', body: { password: undefined }, field: 'password' },
    { name: 'a password of 7 characters', body: { password: 'Sh0rt-7' }, field: 'password' },
    { name: 'a password of 129 characters', body: { password: `long-${'x'.repeat(124)}` }, field: 'password' },
    { name: 'a password of 129 emoji', body: { password: emoji(129) }, field: 'password' },
    { name: 'a name of 101 characters', body: { name: 'n'.repeat(101) }, field: 'name' },
    { name: 'an id field', body: { id: crypto.randomUUID() }, field: 'id' },
    { name: 'a role field', body: { role: 'admin' }, field: 'role' },
    { name: 'a password_hash field', body: { password_hash: '$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA' }, field: 'password_hash' },
  ]
  for (const { name, body, field } of rejected) {
    test(`${name} is 422 naming ${field}, and nothing is created`, async () => {
      const sent: Record<string, unknown> = { email: randomEmail('invalid'), password: 'valid-password-1', ...body }
      for (const key of Object.keys(sent)) if (sent[key] === undefined) delete sent[key]
      const reply = await post('signup', sent)
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError(field))
      if (typeof sent.email === 'string') expect(await countUsers(sent.email.trim().toLowerCase())).toBe(0)
      if (field !== 'email' && field !== 'password') {
        const signin = await signIn({ email: sent.email, password: sent.password })
        expect([signin.status, signin.body]).toEqual([401, INVALID_CREDENTIALS])
      }
    })
  }

  test('passwords of 8, 128 and 128 emoji characters (256 UTF-16 units) are accepted and sign in', async () => {
    for (const password of ['Eight-8!', `p128-${'y'.repeat(123)}`, emoji(128)]) {
      const { reply, sent } = await register({ password })
      expectSession(reply, 201, { email: sent.email, name: null })
      expectSession(await signIn({ email: sent.email, password }), 200, { email: sent.email, name: null })
    }
  })
})

describe('hostile emails', () => {
  const tag = () => crypto.randomUUID().slice(0, 8)
  const cases: { email: string; accepted: boolean }[] = [
    { email: `o'brien+${tag()}@example.com`, accepted: true },
    { email: `";drop/**/table/**/users;--${tag()}"@example.com`, accepted: true },
    { email: `${tag()}@example.com';--`, accepted: true },
    { email: `"; drop table users; --${tag()}"@example.com`, accepted: false },
    { email: `${tag()}@example.com'); delete from users;--`, accepted: false },
    { email: `ñandú-${tag()}@ejemplo.es`, accepted: true },
    { email: `用户-${tag()}@例子.广告`, accepted: true },
  ]
  for (const { email, accepted } of cases) {
    test(`${JSON.stringify(email)} is ${accepted ? 'stored verbatim and signs in' : '422'}, never 500`, async () => {
      const { reply } = await register({ email, password: 'hostile-pw-99' })
      if (!accepted) {
        expect(reply.status).toBe(422)
        expect(reply.body).toMatchObject({ code: 'validation_error', errors: [{ field: 'email', message: expect.any(String) }] })
        return
      }
      expectSession(reply, 201, { email, name: null })
      expect(await countUsers(email)).toBe(1)
      const signin = await signIn({ email: email.toUpperCase(), password: 'hostile-pw-99' })
      expectSession(signin, 200, { email, name: null })
      expect(signin.body.user).toEqual(reply.body.user)
    })
  }
})

describe('POST /api/auth/signin', () => {
  test('200 with the same shape; the email is matched case-insensitively and trimmed', async () => {
    const { reply, sent } = await register({ name: 'Grace', password: 'signin-pw-Grace' })
    const signin = await signIn({ email: `  ${sent.email.toUpperCase()} `, password: 'signin-pw-Grace' })
    expectSession(signin, 200, { email: sent.email, name: 'Grace' })
    expect(signin.body.user).toEqual(reply.body.user)
  })

  test('a wrong password and an unknown email get the same 401 with WWW-Authenticate, in the same time', async () => {
    const { sent } = await register({ password: 'timing-pw-right' })
    const timings = { unknown: [] as number[], wrong: [] as number[] }
    const answers: Reply[] = []
    for (let i = 0; i < 16; i++) {
      const kind = i % 2 === 0 ? 'unknown' : 'wrong'
      const body =
        kind === 'unknown'
          ? { email: randomEmail('nobody'), password: 'timing-pw-right' }
          : { email: sent.email, password: `timing-pw-wrong-${i}` }
      const start = performance.now()
      const reply = await signIn(body)
      timings[kind].push(performance.now() - start)
      answers.push(reply)
    }
    for (const reply of answers) {
      expect(reply.status).toBe(401)
      expect(reply.body).toEqual(INVALID_CREDENTIALS)
      expect(reply.headers.get('www-authenticate')).toBe(answers[0]!.headers.get('www-authenticate'))
      expect(reply.headers.get('www-authenticate')).toStartWith('Bearer')
    }
    const ratio = median(timings.unknown) / median(timings.wrong)
    console.log(
      `signin medians: unknown email ${median(timings.unknown).toFixed(1)} ms, wrong password ${median(timings.wrong).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`,
    )
    expect(ratio).toBeGreaterThan(0.5)
    expect(ratio).toBeLessThan(2)
  })
})

describe('GET /api/auth/me', () => {
  test('an own account: {id, email, name, created_at}', async () => {
    const { reply } = await register({ name: 'Me Myself' })
    const me = await call('GET', '/api/auth/me', { token: reply.body.token })
    expect(me.status).toBe(200)
    expect(me.body).toEqual(reply.body.user)
    expectClean(me)
  })

  test('a token for a sub with no local account: {id, email, name} from its claims, or just {id}', async () => {
    const sub = userId('better-auth')
    const full = await call('GET', '/api/auth/me', { token: await tokenFor(sub, { email: 'ba@example.com', name: 'Better' }) })
    expect([full.status, full.body]).toEqual([200, { id: sub, email: 'ba@example.com', name: 'Better' }])
    const bare = await call('GET', '/api/auth/me', { token: await tokenFor(sub) })
    expect([bare.status, bare.body]).toEqual([200, { id: sub }])
  })

  test('without a token it is 401', async () => {
    expectUnauthenticated(await call('GET', '/api/auth/me'), 'token_missing', /missing/i)
  })
})

describe('DELETE /api/auth/me', () => {
  test('204; tasks and account gone; signin 401; the email can sign up again; the old token still authenticates until it expires (claims only, no tasks)', async () => {
    const { reply, sent } = await register({ name: 'Leaving', password: 'delete-pw-bye' })
    const { token, user } = reply.body
    for (const title of ['one', 'two', 'three']) expect((await call('POST', '/api/tasks', { token, body: { title } })).status).toBe(201)
    expect(await countTasks(user.id)).toBe(3)
    const deleted = await call('DELETE', '/api/auth/me', { token })
    expect([deleted.status, deleted.text]).toEqual([204, ''])
    expect(await countTasks(user.id)).toBe(0)
    expect(await countUsers(sent.email)).toBe(0)
    const signin = await signIn({ email: sent.email, password: 'delete-pw-bye' })
    expect([signin.status, signin.body]).toEqual([401, INVALID_CREDENTIALS])
    // Stateless JWTs: the old token is not revoked; it now speaks for a user with no account.
    const me = await call('GET', '/api/auth/me', { token })
    expect([me.status, me.body]).toEqual([200, { id: user.id, email: sent.email, name: 'Leaving' }])
    const list = await call('GET', '/api/tasks', { token })
    expect([list.status, list.body]).toEqual([200, []])
    const again = await register({ email: sent.email, password: 'delete-pw-again' })
    expectSession(again.reply, 201, { email: sent.email, name: null })
    expect(again.reply.body.user.id).not.toBe(user.id)
  })

  test('kept Idempotency-Key answers (they hold task data) and unused event tickets go with the account', async () => {
    const token = await tokenFor(userId('leaving'))
    const created = await call('POST', '/api/tasks', { token, body: { title: 'private' }, headers: { 'idempotency-key': 'k1' } })
    expect(created.status).toBe(201)
    expect((await call('POST', '/api/events/ticket', { token })).status).toBe(200)
    expect((await call('DELETE', '/api/auth/me', { token })).status).toBe(204)
    const { sub } = decodeJwt(token) as { sub: string }
    expect(await database.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.userId, sub))).toEqual([])
    expect(await database.db.select().from(eventTickets).where(eq(eventTickets.userId, sub))).toEqual([])
    // The same key now runs again: the task it made is gone.
    const again = await call('POST', '/api/tasks', { token, body: { title: 'private' }, headers: { 'idempotency-key': 'k1' } })
    expect(again.headers.get('idempotent-replayed')).toBeNull()
  })

  test('a Better Auth user (no local account) gets 204 and their tasks are deleted too', async () => {
    const sub = userId('better-auth')
    const token = await tokenFor(sub)
    for (const title of ['a', 'b']) expect((await call('POST', '/api/tasks', { token, body: { title } })).status).toBe(201)
    expect(await countTasks(sub)).toBe(2)
    const deleted = await call('DELETE', '/api/auth/me', { token })
    expect([deleted.status, deleted.text]).toEqual([204, ''])
    expect(await countTasks(sub)).toBe(0)
    expect((await call('GET', '/api/tasks', { token })).body).toEqual([])
  })
})

describe('rate limits', () => {
  const limits = { signup: { burst: 2, refillSeconds: 3600 }, signin: { burst: 3, refillSeconds: 3600 } }
  const tightApp = () => createApp({ database, config: testConfig(), logger, authLimits: limits })

  function expectRateLimited(reply: Reply) {
    expect(reply.status).toBe(429)
    const retryAfter = reply.headers.get('retry-after')!
    expect(retryAfter).toMatch(/^[1-9]\d*$/)
    expect(Number(retryAfter)).toBeLessThanOrEqual(3600)
    expect(reply.body).toEqual({ detail: expect.stringContaining(retryAfter), code: 'rate_limited' })
  }

  test('signup: the 3rd from one address is 429 with Retry-After and creates nothing; another address is unaffected', async () => {
    const tight = await tightApp()
    const from = randomAddress()
    for (let i = 0; i < 2; i++)
      expect((await post('signup', { email: randomEmail('limit'), password: 'limit-pw-1' }, from, tight)).status).toBe(201)
    const email = randomEmail('limited')
    expectRateLimited(await post('signup', { email, password: 'limit-pw-1' }, from, tight))
    expect(await countUsers(email)).toBe(0)
    expectSession(await post('signup', { email, password: 'limit-pw-1' }, randomAddress(), tight), 201, { email, name: null })
  })

  test('signin: failed attempts count; the 4th from one address is 429 even with the right password', async () => {
    const tight = await tightApp()
    const email = randomEmail('guess')
    expect((await post('signup', { email, password: 'guess-pw-right' }, randomAddress(), tight)).status).toBe(201)
    const from = randomAddress()
    for (let i = 0; i < 3; i++) {
      const wrong = await signIn({ email, password: `guess-pw-wrong-${i}` }, from, tight)
      expect([wrong.status, wrong.body]).toEqual([401, INVALID_CREDENTIALS])
    }
    expectRateLimited(await signIn({ email, password: 'guess-pw-right' }, from, tight))
    expectSession(await signIn({ email, password: 'guess-pw-right' }, randomAddress(), tight), 200, { email, name: null })
  })
})

test('no password and no hash ever reaches a log line', () => {
  expect(logLines.length).toBeGreaterThan(0)
  const log = logLines.join('\n')
  expect(log).not.toContain('$argon2')
  for (const password of passwords) expect(log).not.toContain(password)
})
