// Sign-up and sign-in limits live in the database: instances sharing it share
// one limit per client address (N instances give one limit, not N).
import { describe, expect, test } from 'bun:test'
import { inArray } from 'drizzle-orm'
import { createApp } from '../src/app'
import type { AuthLimits } from '../src/auth/routes'
import { openDatabase } from '../src/db/client'
import { rateLimits } from '../src/db/schema'
import {
  call,
  database,
  logger,
  type Reply,
  randomAddress,
  randomEmail,
  TEST_DATABASE_PREPARE,
  TEST_DATABASE_URL,
  type TestApp,
  testConfig,
} from './support'

const TIGHT = { signup: { burst: 2, refillSeconds: 3600 }, signin: { burst: 3, refillSeconds: 3600 } }

const appOn = (limits: AuthLimits, on = database) => createApp({ database: on, config: testConfig(), logger, authLimits: limits })

// An unknown email: every attempt is a 401 until the limit answers 429.
const signIn = (app: TestApp, from: string) =>
  call('POST', '/api/auth/signin', {
    on: app,
    body: { email: randomEmail('nobody'), password: 'not the password' },
    headers: { 'x-forwarded-for': from },
  })
const signUp = (app: TestApp, from: string) =>
  call('POST', '/api/auth/signup', {
    on: app,
    body: { email: randomEmail('limit'), password: 'limit password 1' },
    headers: { 'x-forwarded-for': from },
  })

function retryAfter(reply: Reply): number | undefined {
  if (reply.status !== 429) return undefined
  expect(reply.body).toEqual({ detail: `Too many attempts; try again in ${reply.headers.get('retry-after')} s`, code: 'rate_limited' })
  return Number(reply.headers.get('retry-after'))
}

async function expectOneLimit(first: TestApp, second: TestApp) {
  const from = randomAddress()
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push((await signIn(i % 2 ? second : first, from)).status)
  expect(statuses).toEqual([401, 401, 401, 429])
  const limited = await signIn(second, from)
  expect(retryAfter(limited)).toBeGreaterThan(3000)
  expect((await signIn(first, randomAddress())).status).toBe(401)

  const signupFrom = randomAddress()
  const signups: number[] = []
  for (let i = 0; i < 3; i++) signups.push((await signUp(i % 2 ? second : first, signupFrom)).status)
  expect(signups).toEqual([201, 201, 429])
  // The same address still has its sign-in budget: the key is the limit and the address.
  expect((await signIn(first, signupFrom)).status).toBe(401)
}

describe('rate limits across instances', () => {
  test('two apps on one database handle share one limit per address; another address is unaffected', async () => {
    await expectOneLimit(await appOn(TIGHT), await appOn(TIGHT))
  })

  test.if(Boolean(TEST_DATABASE_URL))('two apps on two pools to one PostgreSQL database share one limit', async () => {
    const other = await openDatabase({
      databaseUrl: TEST_DATABASE_URL,
      dataDir: 'memory://',
      poolMax: 2,
      prepare: TEST_DATABASE_PREPARE,
      databaseTimeoutMs: 5000,
    })
    try {
      await expectOneLimit(await appOn(TIGHT), await appOn(TIGHT, other))
    } finally {
      await other.close()
    }
  })

  test('concurrent attempts on two instances: exactly the burst gets through', async () => {
    const [first, second] = [await appOn(TIGHT), await appOn(TIGHT)]
    const from = randomAddress()
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => signIn(i % 2 ? second : first, from)))
    expect(replies.map((reply) => reply.status).sort()).toEqual([401, 401, 401, 429, 429, 429, 429, 429])
  })
})

describe('refill', () => {
  test('one attempt comes back per refill period, up to the burst; Retry-After counts down', async () => {
    let clock = Date.now()
    const limits = { ...TIGHT, signin: { burst: 2, refillSeconds: 30 }, now: () => clock }
    const [first, second] = [await appOn(limits), await appOn(limits)]
    const from = randomAddress()
    expect([(await signIn(first, from)).status, (await signIn(second, from)).status]).toEqual([401, 401])
    expect(retryAfter(await signIn(first, from))).toBe(30)
    clock += 10_000
    expect(retryAfter(await signIn(second, from))).toBe(20)
    clock += 19_500
    expect(retryAfter(await signIn(first, from))).toBe(1)
    clock += 500
    expect((await signIn(second, from)).status).toBe(401)
    expect(retryAfter(await signIn(first, from))).toBe(30)
    // Idle long enough to refill many times over: still only the burst.
    clock += 10 * 30_000
    const statuses = [(await signIn(first, from)).status, (await signIn(second, from)).status, (await signIn(first, from)).status]
    expect(statuses).toEqual([401, 401, 429])
  })

  test('full buckets are swept now and then, so the table does not grow with every address ever seen', async () => {
    let clock = Date.now()
    const limits = { ...TIGHT, signin: { burst: 2, refillSeconds: 30 }, now: () => clock }
    const app = await appOn(limits)
    const [old, recent] = [randomAddress(), randomAddress()]
    const [oldKey, recentKey] = [`signin:${old}`, `signin:${recent}`]
    const stored = async () =>
      (
        await database.db
          .select({ key: rateLimits.key })
          .from(rateLimits)
          .where(inArray(rateLimits.key, [oldKey, recentKey]))
      ).map((row) => row.key)
    expect((await signIn(app, old)).status).toBe(401)
    expect(await stored()).toEqual([oldKey])
    clock += 61_000 // past the sweep interval, and old's bucket long full again
    expect((await signIn(app, recent)).status).toBe(401)
    expect(await stored()).toEqual([recentKey])
  })
})

describe('what counts as an attempt, and from where', () => {
  test('every sign-in counts, however malformed its body, and counts once: the 4th is 429 before its body is read', async () => {
    const app = await appOn(TIGHT)
    const from = randomAddress()
    const bodies: { raw?: string; headers: Record<string, string> }[] = [
      { raw: '{bad', headers: { 'content-type': 'application/json' } },
      { raw: 'email=a', headers: { 'content-type': 'text/plain' } },
      { headers: {} },
    ]
    const statuses: number[] = []
    for (const { raw, headers } of bodies)
      statuses.push((await call('POST', '/api/auth/signin', { on: app, raw, headers: { ...headers, 'x-forwarded-for': from } })).status)
    expect(statuses).toEqual([400, 415, 422])
    expect((await signIn(app, from)).status).toBe(429)
  })

  test('an X-Forwarded-For entry that is not an IP address is not trusted: the socket address is used, never a 500', async () => {
    const app = await appOn(TIGHT)
    // app.handle has no socket: every request without a trusted address shares the key of 'unknown'.
    await database.db.delete(rateLimits).where(inArray(rateLimits.key, ['signin:unknown']))
    const forged = () => `${crypto.randomUUID()}${'x'.repeat(8000)}`
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await signIn(app, forged())).status)
    // Each forged entry differs, yet all four share one key: the (absent) socket address.
    expect(statuses).toEqual([401, 401, 401, 429])
  })
})
