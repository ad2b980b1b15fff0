// Tokens from the real Better Auth (jwt plugin, EdDSA, served JWKS) against this service,
// the key-set cache, an unreachable key set, and attacks on the asymmetric path.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { betterAuth } from 'better-auth'
import { memoryAdapter } from 'better-auth/adapters/memory'
import { jwt } from 'better-auth/plugins'
import { decodeJwt, decodeProtectedHeader, exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'
import { createApp } from '../src/app'
import { answerOf, errorOf, mcpClient } from './mcp-client'
import { closedPort, silentListener } from './sockets'
import {
  base64urlJson,
  call,
  database,
  errorBody,
  expectUnauthenticated,
  logger,
  nowSeconds,
  randomEmail,
  secret,
  signJwt,
  type TestApp,
  testConfig,
  tokenFor,
  userId,
} from './support'

const cleanups: (() => unknown)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

const randomSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(30))).toString('base64url') // 40 characters

let jwksFetches = 0
const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch: (request): Promise<Response> => {
    if (new URL(request.url).pathname === '/api/auth/jwks') jwksFetches++
    return auth.handler(request)
  },
})
cleanups.push(() => server.stop(true))
const baseURL: string = `http://127.0.0.1:${server.port}`
const auth = betterAuth({
  baseURL,
  secret: randomSecret(),
  database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
  emailAndPassword: { enabled: true },
  plugins: [jwt()],
})

/** Signs up through Better Auth's own endpoints and asks it for a JWT, as the frontend does. */
async function betterAuthUser(label: string) {
  const email = randomEmail(label)
  const name = `Better Auth ${label}`
  const signUp = await fetch(`${baseURL}/api/auth/sign-up/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: baseURL },
    body: JSON.stringify({ email, password: 'correct horse battery staple', name }),
  })
  expect(signUp.status).toBe(200)
  const { user } = (await signUp.json()) as { user: { id: string } }
  const cookie = signUp.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  const reply = await fetch(`${baseURL}/api/auth/token`, { headers: { cookie } })
  expect(reply.status).toBe(200)
  const { token } = (await reply.json()) as { token: string }
  return { id: user.id, email, name, token }
}

const appFor = (env: Record<string, string>) => createApp({ database, config: testConfig(env), logger })
const main: TestApp = await appFor({ BETTER_AUTH_URL: baseURL })
const alice = await betterAuthUser('alice')
const bob = await betterAuthUser('bob')
const as =
  (token: string, on: TestApp = main) =>
  (method: string, path: string, body?: unknown) =>
    call(method, path, { token, body, on })

// Every 401 on this path: any token_* code; the detail is checked where a test names it.
const TOKEN_CODE = /^token_/

describe('a real Better Auth token (EdDSA, verified against its JWKS)', () => {
  test('is what the frontend gets: EdDSA, a kid, iss = aud = baseURL, sub = the user id', () => {
    expect(decodeProtectedHeader(alice.token)).toEqual({ alg: 'EdDSA', kid: expect.any(String) })
    expect(decodeJwt(alice.token)).toMatchObject({ sub: alice.id, iss: baseURL, aud: baseURL, email: alice.email, name: alice.name })
  })

  test('works on every task route; the tasks belong to the Better Auth user id', async () => {
    const alices = as(alice.token)
    const created = await alices('POST', '/api/tasks', { title: 'From Better Auth', tags: ['ba'] })
    expect(created.status).toBe(201)
    const id = created.body.id
    expect(id).toBeInteger()
    expect(created.body).toMatchObject({ title: 'From Better Auth', completed: false, tags: ['ba'] })
    expect(created.body.user_id).toBeUndefined()
    expect(created.headers.get('location')).toEndWith(`/${id}`)

    const list = await alices('GET', '/api/tasks')
    expect(list.status).toBe(200)
    expect(list.body).toEqual([created.body])
    const one = await alices('GET', `/api/tasks/${id}`)
    expect(one.status).toBe(200)
    expect(one.body).toEqual(created.body)
    const completed = await alices('PATCH', `/api/tasks/${id}/complete`)
    expect(completed.status).toBe(200)
    expect(completed.body).toMatchObject({ id, completed: true })

    // The owner named in the path is the Better Auth id; anyone else's id is 403.
    const byOwner = await alices('GET', `/api/${alice.id}/tasks`)
    expect(byOwner.status).toBe(200)
    expect(byOwner.body).toEqual([completed.body])
    const notMine = await alices('GET', `/api/${bob.id}/tasks`)
    expect(notMine.status).toBe(403)
    expect(notMine.body).toMatchObject({ code: 'forbidden' })

    const deleted = await alices('DELETE', `/api/${alice.id}/tasks/${id}`)
    expect(deleted.status).toBe(204)
    expect(deleted.text).toBe('')
    const gone = await alices('GET', `/api/tasks/${id}`)
    expect(gone.status).toBe(404)
    expect(gone.body).toMatchObject({ code: 'task_not_found' })
  })

  test('GET /api/auth/me is {id, email, name} from the token', async () => {
    const me = await as(alice.token)('GET', '/api/auth/me')
    expect(me.status).toBe(200)
    expect(me.body).toEqual({ id: alice.id, email: alice.email, name: alice.name })
  })

  test("has settings with no local account: the defaults, then their own time zone, which is not another user's", async () => {
    const alices = as(alice.token)
    expect((await alices('GET', '/api/settings')).body).toEqual({ time_zone: 'UTC' })
    const set = await alices('PATCH', '/api/settings', { time_zone: 'Europe/Berlin' })
    expect([set.status, set.body]).toEqual([200, { time_zone: 'Europe/Berlin' }])
    expect((await alices('GET', '/api/settings')).body).toEqual({ time_zone: 'Europe/Berlin' })
    expect((await as(bob.token)('GET', '/api/settings')).body).toEqual({ time_zone: 'UTC' })
  })

  test("another Better Auth user's token never reaches the first user's tasks", async () => {
    const task = (await as(alice.token)('POST', '/api/tasks', { title: 'Alice only' })).body
    const bobs = as(bob.token)
    const list = await bobs('GET', '/api/tasks')
    expect(list.status).toBe(200)
    expect(list.body).not.toContainEqual(task)
    for (const [method, path] of [
      ['GET', `/api/tasks/${task.id}`],
      ['PATCH', `/api/tasks/${task.id}/complete`],
      ['DELETE', `/api/tasks/${task.id}`],
      ['GET', `/api/${alice.id}/tasks`],
    ] as const) {
      const reply = await bobs(method, path)
      expect(reply.status).toBe(403)
      expect(reply.body).toMatchObject({ code: 'forbidden' })
      expect(reply.text).not.toContain('Alice only')
    }
    const still = await as(alice.token)('GET', `/api/tasks/${task.id}`)
    expect(still.status).toBe(200)
    expect(still.body).toEqual(task)
  })

  test('works on /mcp as on REST: the SDK client acts for the Better Auth user, and another one never reaches those tasks', async () => {
    const alicesAgent = await mcpClient(alice.token, main)
    const added = answerOf(await alicesAgent.callTool({ name: 'add_task', arguments: { title: 'From an agent', user_id: alice.id } }))
    expect((await as(alice.token)('GET', `/api/tasks/${added.id}`)).body).toEqual(added)
    const listed = answerOf(await alicesAgent.callTool({ name: 'list_tasks', arguments: { q: 'From an agent' } }))
    expect(listed).toEqual({ tasks: [added], total: 1 })
    const bobsAgent = await mcpClient(bob.token, main)
    for (const [name, args] of [
      ['get_task', { task_id: added.id }],
      ['complete_task', { task_id: added.id }],
      ['list_tasks', { user_id: alice.id }],
    ] as const)
      expect(errorOf(await bobsAgent.callTool({ name, arguments: args })).code).toBe('forbidden')
    expect(answerOf(await bobsAgent.callTool({ name: 'list_tasks', arguments: { q: 'From an agent' } }))).toEqual({ tasks: [], total: 0 })
    expect((await as(alice.token)('GET', `/api/tasks/${added.id}`)).body).toEqual(added)
  })

  test('the key set is fetched once for many tokens of the same kid', async () => {
    const fresh = await appFor({ BETTER_AUTH_URL: baseURL })
    const before = jwksFetches
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => as(i % 2 ? alice.token : bob.token, fresh)('GET', '/api/auth/me')))
    for (let i = 0; i < 10; i++) burst.push(await as(alice.token, fresh)('GET', '/api/tasks'))
    for (const reply of burst) {
      expect(reply.status).toBe(200)
      expect(reply.body).toBeDefined()
    }
    expect(jwksFetches - before).toBe(1)
  })
})

const attacker = await generateKeyPair('EdDSA', { extractable: true })
const attackerJwk = { ...(await exportJWK(attacker.publicKey)), kid: 'attacker-key', alg: 'EdDSA' }
/** Claims Better Auth would give Alice, valid for 15 minutes. */
const aliceClaims = () => ({ sub: alice.id, iss: baseURL, aud: baseURL, iat: nowSeconds(), exp: nowSeconds() + 900 })
const signAsAttacker = (header: Record<string, unknown>, payload: Record<string, unknown> = {}) =>
  signJwt({ ...aliceClaims(), ...payload }, attacker.privateKey, { alg: 'EdDSA', ...header })

describe('key rotation: a kid that is not in the key set', () => {
  test('is 401 (key not in the set), not 503, on a warm and a cold cache', async () => {
    const token = await signAsAttacker({ kid: `rotated-${crypto.randomUUID()}` })
    for (const on of [main, await appFor({ BETTER_AUTH_URL: baseURL })]) {
      expectUnauthenticated(await as(token, on)('GET', '/api/tasks'), TOKEN_CODE, /key|signature/i)
      const real = await as(alice.token, on)('GET', '/api/auth/me')
      expect(real.status).toBe(200)
      expect(real.body).toMatchObject({ id: alice.id })
    }
  })
})

describe('the key set unreachable', () => {
  test('nothing listening: an EdDSA token is 503 auth_unavailable with Retry-After; HS256 still works', async () => {
    const down = await appFor({ BETTER_AUTH_URL: `http://127.0.0.1:${closedPort()}` })
    const reply = await as(alice.token, down)('GET', '/api/tasks')
    expect(reply.status).toBe(503)
    expect(reply.body).toEqual(errorBody('auth_unavailable'))
    expect(reply.headers.get('retry-after')).toMatch(/^\d+$/)
    const hs256 = await as(await tokenFor(userId('hs')), down)('GET', '/api/tasks')
    expect(hs256.status).toBe(200)
    expect(hs256.body).toEqual([])
  })

  test('a server that accepts and never answers: 503 within ~6 s', async () => {
    const silent = silentListener()
    cleanups.push(() => silent.stop(true))
    const hanging = await appFor({ BETTER_AUTH_URL: `http://127.0.0.1:${silent.port}` })
    const started = performance.now()
    const reply = await as(alice.token, hanging)('GET', '/api/tasks')
    expect(performance.now() - started).toBeLessThan(6000)
    expect(reply.status).toBe(503)
    expect(reply.body).toEqual(errorBody('auth_unavailable'))
    expect(reply.headers.get('retry-after')).toMatch(/^\d+$/)
  }, 15_000)
})

describe('attacks on the asymmetric path: 401 and no task data', () => {
  let attackerRequests = 0
  const attackerServer = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => (attackerRequests++, Response.json({ keys: [attackerJwk] })),
  })
  cleanups.push(() => attackerServer.stop(true))
  const evil = `http://127.0.0.1:${attackerServer.port}`
  const marker = `Alice secret plan ${crypto.randomUUID()}`
  let realJwk: JWK & { kid: string }

  beforeAll(async () => {
    expect((await as(alice.token)('POST', '/api/tasks', { title: marker })).status).toBe(201)
    realJwk = ((await (await fetch(`${baseURL}/api/auth/jwks`)).json()) as { keys: (JWK & { kid: string })[] }).keys[0]!
  })

  const hmacWith = (key: string | Uint8Array, header: Record<string, unknown> = {}) =>
    signJwt(aliceClaims(), key, { alg: 'HS256', kid: realJwk.kid, ...header })
  const signedByBetterAuth = async (payload: Record<string, unknown>) => (await auth.api.signJWT({ body: { payload } })).token
  const [, payload, signature] = alice.token.split('.') as [string, string, string]

  const attacks: [string, () => Promise<string>, RegExp?][] = [
    ['HS256 with the JWKS public key JSON as the HMAC secret', () => hmacWith(JSON.stringify(realJwk)), /signature/i],
    [
      'HS256 with the public key PEM as the HMAC secret',
      async () => hmacWith(await exportSPKI((await importJWK(realJwk, 'EdDSA')) as CryptoKey)),
      /signature/i,
    ],
    ['HS256 with the raw public key bytes as the HMAC secret', () => hmacWith(Buffer.from(realJwk.x!, 'base64url')), /signature/i],
    ['alg none with the real payload and kid', async () => `${base64urlJson({ alg: 'none', kid: realJwk.kid })}.${payload}.`],
    ['alg none keeping the real signature', async () => `${base64urlJson({ alg: 'none', kid: realJwk.kid })}.${payload}.${signature}`],
    [
      "Bob's real token with its sub changed to Alice",
      async () => {
        const [bobHeader, bobPayload, bobSignature] = bob.token.split('.')
        return `${bobHeader}.${base64urlJson({ ...JSON.parse(Buffer.from(bobPayload!, 'base64url').toString()), sub: alice.id })}.${bobSignature}`
      },
      /signature/i,
    ],
    ['a jku header pointing at the attacker key set', () => signAsAttacker({ kid: attackerJwk.kid, jku: `${evil}/jwks` })],
    ['an x5u header pointing at the attacker', () => signAsAttacker({ kid: attackerJwk.kid, x5u: `${evil}/cert.pem` })],
    [
      'an embedded jwk (the attacker public key)',
      () => signAsAttacker({ jwk: { kty: attackerJwk.kty, crv: attackerJwk.crv, x: attackerJwk.x } }),
    ],
    [
      'an embedded jwk with the real kid',
      () => signAsAttacker({ kid: realJwk.kid, jwk: { kty: attackerJwk.kty, crv: attackerJwk.crv, x: attackerJwk.x } }),
    ],
    ['kid ../../etc/passwd (EdDSA)', () => signAsAttacker({ kid: '../../etc/passwd' })],
    ["kid ' OR 1=1 -- (EdDSA)", () => signAsAttacker({ kid: "' OR 1=1 --" })],
    ['kid ../../etc/passwd (HS256, attacker secret)', () => hmacWith(randomSecret(), { kid: '../../etc/passwd' })],
    ["kid ' OR 1=1 -- (HS256, the kid as the secret)", () => hmacWith("' OR 1=1 --", { kid: "' OR 1=1 --" })],
    ['signed by Better Auth with a wrong iss', () => signedByBetterAuth({ sub: alice.id, iss: 'https://evil.example' }), /\biss\b/],
    ['signed by Better Auth with a wrong aud', () => signedByBetterAuth({ sub: alice.id, aud: 'someone-else' }), /\baud\b/],
    [
      'signed by Better Auth, expired',
      () => signedByBetterAuth({ sub: alice.id, iat: nowSeconds() - 3600, exp: nowSeconds() - 120 }),
      /expired/i,
    ],
    ['signed by Better Auth without sub', () => signedByBetterAuth({ email: alice.email }), /\bsub\b/],
  ]
  for (const [name, make, detail] of attacks) {
    test(`${name} is 401`, async () => {
      const token = await make()
      for (const path of ['/api/tasks', `/api/${alice.id}/tasks`]) {
        const reply = await as(token)('GET', path)
        expectUnauthenticated(reply, TOKEN_CODE, detail)
        expect(reply.text).not.toContain(marker)
      }
      expect(attackerRequests).toBe(0)
    })
  }

  test('JWT_ISSUER / JWT_AUDIENCE other than the Better Auth URL reject the real token', async () => {
    expect((await as(alice.token)('GET', '/api/tasks')).status).toBe(200)
    for (const [variable, claim] of [
      ['JWT_ISSUER', /\biss\b/],
      ['JWT_AUDIENCE', /\baud\b/],
    ] as const) {
      const strict = await appFor({ BETTER_AUTH_URL: baseURL, [variable]: 'https://not-better-auth.example' })
      const reply = await as(alice.token, strict)('GET', '/api/tasks')
      expectUnauthenticated(reply, TOKEN_CODE, claim)
      expect(reply.text).not.toContain(marker)
    }
  })

  test('a 17 KB Authorization header is 401 or 431, never 5xx, in process and over HTTP', async () => {
    const authorization = `Bearer ${alice.token}${'A'.repeat(17 * 1024)}`
    const reply = await call('GET', '/api/tasks', { headers: { authorization }, on: main })
    expectUnauthenticated(reply, TOKEN_CODE)
    expect(reply.text).not.toContain(marker)
    const http = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => main.handle(request) })
    cleanups.push(() => http.stop(true))
    const response = await fetch(`http://127.0.0.1:${http.port}/api/tasks`, { headers: { authorization } })
    const text = await response.text()
    expect([401, 431]).toContain(response.status)
    if (text) expect(JSON.parse(text)).toMatchObject({ detail: expect.any(String) })
    expect(text).not.toContain(marker)
  })
})

describe('an HS256 token minted by a Next.js route with the shared secret', () => {
  test('works on the task routes; the task belongs to its sub, the Better Auth user', async () => {
    // Written out as such a route writes it (jose, no typ), not through this suite's helpers.
    const nextToken = await new SignJWT({ email: alice.email, name: alice.name })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(alice.id)
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(new TextEncoder().encode(secret))
    const viaNext = as(nextToken)
    const created = await viaNext('POST', '/api/tasks', { title: 'From a Next.js route' })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ title: 'From a Next.js route', completed: false })
    const byOwner = await viaNext('GET', `/api/${alice.id}/tasks`)
    expect(byOwner.status).toBe(200)
    expect(byOwner.body).toContainEqual(created.body)
    // The same owner through Better Auth's own EdDSA token; not Bob.
    const viaBetterAuth = await as(alice.token)('GET', `/api/tasks/${created.body.id}`)
    expect(viaBetterAuth.status).toBe(200)
    expect(viaBetterAuth.body).toEqual(created.body)
    const bobs = await as(bob.token)('GET', `/api/tasks/${created.body.id}`)
    expect(bobs.status).toBe(403)
    expect(bobs.body).toMatchObject({ code: 'forbidden' })
    const me = await viaNext('GET', '/api/auth/me')
    expect(me.status).toBe(200)
    expect(me.body).toEqual({ id: alice.id, email: alice.email, name: alice.name })
  })
})
