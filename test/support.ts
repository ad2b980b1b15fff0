// Shared by every test file: one database per test process (PGlite in memory,
// or PostgreSQL when TEST_DATABASE_URL is set), migrated once; tests isolate
// themselves with random user ids. Raw sockets and ports live in sockets.ts.
import { afterAll, expect } from 'bun:test'
import { desc, eq } from 'drizzle-orm'
import { generateKeyBetween } from 'fractional-indexing'
import { type JWTHeaderParameters, SignJWT } from 'jose'
import { createApp } from '../src/app'
import { type Config, loadConfig } from '../src/config'
import { type DatabaseHandle, openDatabase } from '../src/db/client'
import { lists } from '../src/db/schema'
import { createLogger, type Logger } from '../src/http/logger'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined
// LISTEN needs a direct connection: behind a transaction pooler CI names one here.
export const TEST_DATABASE_LISTEN_URL = process.env.TEST_DATABASE_LISTEN_URL || TEST_DATABASE_URL
// Made per run: no secret is ever written into the repository.
export const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')

// TEST_DATABASE_PREPARE=false runs the suite as it must run behind a
// transaction-mode pooler (CI does, through PgBouncer).
export const TEST_DATABASE_PREPARE = process.env.TEST_DATABASE_PREPARE !== 'false'

export const database: DatabaseHandle = await openDatabase({
  databaseUrl: TEST_DATABASE_URL,
  dataDir: 'memory://',
  poolMax: 10,
  prepare: TEST_DATABASE_PREPARE,
  databaseTimeoutMs: 5000,
})

export const logLines: string[] = []
export const logger: Logger = createLogger('info', (line) => {
  logLines.push(line)
})

// TRUST_PROXY=1 lets each test come from an address of its own (X-Forwarded-For),
// so the per-address sign-up and sign-in limits never couple tests together.
export function testConfig(env: Record<string, string> = {}): Config & { jwtSecret: string } {
  return {
    ...loadConfig({ DATA_DIR: 'memory://', BETTER_AUTH_SECRET: secret, TRUST_PROXY: '1', ...env }),
    jwtSecret: env.BETTER_AUTH_SECRET ?? secret,
  }
}

export function randomAddress(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint8Array(3))
  return `10.${a}.${b}.${c}`
}

export type TestApp = Awaited<ReturnType<typeof createApp>>
export const app: TestApp = await createApp({ database, config: testConfig(), logger })

export function userId(label = 'user'): string {
  return `${label}-${crypto.randomUUID()}`
}

/** Seconds since the epoch, as JWT claims count time. */
export const nowSeconds = () => Math.floor(Date.now() / 1000)

/** base64url of the JSON of a value: a hand-made JWT header or payload segment. */
export const base64urlJson = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Signs exactly this payload: no claim is added or overwritten, so a test can forge any token it likes. */
export function signJwt(
  payload: Record<string, unknown>,
  key: string | CryptoKey | Uint8Array = secret,
  header: Partial<JWTHeaderParameters> = { alg: 'HS256' },
) {
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'JWT', alg: 'HS256', ...header })
    .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key)
}

/** Claims that verify: a random sub, issued now, valid for an hour; `extra` adds or overrides. */
export const validClaims = (extra: Record<string, unknown> = {}) => ({
  sub: userId('claims'),
  iat: nowSeconds(),
  exp: nowSeconds() + 3600,
  ...extra,
})

/** A token that verifies for `sub`: iat is now, exp an hour later unless `claims` sets it. */
export async function tokenFor(sub: string | undefined, claims: Record<string, unknown> = {}, key = secret, alg = 'HS256') {
  const iat = nowSeconds()
  return signJwt({ exp: iat + 3600, ...claims, iat, ...(sub === undefined ? {} : { sub }) }, key, { alg })
}

export interface Reply<T = any> {
  status: number
  headers: Headers
  body: T
  text: string
}

export interface CallOptions {
  token?: string
  body?: unknown
  /** Sent as is, without JSON encoding or a Content-Type. */
  raw?: string | Uint8Array | ReadableStream
  headers?: Record<string, string>
  on?: TestApp
}

export async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
  const headers = new Headers(options.headers)
  if (options.token) headers.set('authorization', `Bearer ${options.token}`)
  let body = options.raw
  if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    if (!headers.has('content-type')) headers.set('content-type', 'application/json')
  }
  const response = await (options.on ?? app).handle(new Request(`http://localhost${path}`, { method, headers, body }))
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text }
}

/** `call` with this bearer token. */
export function callAs(token: string) {
  return <T = any>(method: string, path: string, options: Omit<CallOptions, 'token'> = {}) => call<T>(method, path, { ...options, token })
}

/** A user with a valid token and a `call` bound to it. */
export async function signedInUser(label = 'user') {
  const id = userId(label)
  const token = await tokenFor(id)
  return { id, token, call: callAs(token) }
}

export type User = Awaited<ReturnType<typeof signedInUser>>

export async function createTask(user: User, body: Record<string, unknown> = {}) {
  const reply = await user.call('POST', '/api/tasks', { body: { title: 'A task', ...body } })
  if (reply.status !== 201) throw new Error(`createTask: ${reply.status} ${reply.text}`)
  return reply.body as { id: number; title: string; [field: string]: unknown }
}

/**
 * Another list of `user`'s, made in the database (the list routes are built
 * on another branch): placed after the user's lists, and after the default
 * list's key (a0) when that list is not made yet.
 */
export async function makeList(user: User, name = 'Another list'): Promise<number> {
  const [last] = await database.db
    .select({ position: lists.position })
    .from(lists)
    .where(eq(lists.userId, user.id))
    .orderBy(desc(lists.position))
    .limit(1)
  const position = generateKeyBetween(last?.position ?? 'a0', null)
  const [made] = await database.db.insert(lists).values({ userId: user.id, name, position }).returning({ id: lists.id })
  return made!.id
}

/** A response must never carry internals: stack traces, SQL, or driver messages. */
export function expectNoLeak(text: string) {
  for (const marker of [/\bat .*\.(ts|js):\d+/, /\bselect\b.*\bfrom\b/i, /\binsert into\b/i, /DrizzleQueryError/, /postgres(ql)?:\/\//])
    if (marker.test(text)) throw new Error(`response leaks internals (${marker}): ${text.slice(0, 300)}`)
}

export function randomEmail(label = 'user'): string {
  return `${label}-${crypto.randomUUID()}@example.com`
}

/** Signs up through the API from an address of its own; returns the reply and what was sent. */
export async function signUp(body: Record<string, unknown> = {}, from = randomAddress()) {
  const sent = { email: randomEmail(), password: 'correct horse battery', ...body }
  const reply = await call('POST', '/api/auth/signup', { body: sent, headers: { 'x-forwarded-for': from } })
  return { reply, sent, from }
}

/** A real account made through sign-up (so /api/auth/me reads stored data), with a `call` bound to its token. */
export async function signedUpUser(body: Record<string, unknown> = {}) {
  const { reply, sent } = await signUp(body)
  if (reply.status !== 201) throw new Error(`signedUpUser: ${reply.status} ${reply.text}`)
  const token: string = reply.body.token
  return { id: reply.body.user.id as string, email: sent.email, token, call: callAs(token) }
}

export const JSON_TYPE = { 'content-type': 'application/json' }

/** The contract's error body: a human detail and a machine code, nothing else. */
export const errorBody = (code: string) => ({ detail: expect.any(String), code })

/** The contract's 422 naming `field`; with `nested`, a path inside it (tags[0], body.x) also counts. */
export function validationError(field: string, nested = false) {
  const named = nested ? expect.stringMatching(new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\[|\\.|$)`)) : field
  return {
    detail: expect.stringContaining(field),
    code: 'validation_error',
    errors: expect.arrayContaining([{ field: named, message: expect.any(String) }]),
  }
}

/**
 * A 401 as the contract wants it: a Bearer challenge, a JSON {detail, code} body with one of the
 * expected codes, and nothing of the token (or its longer parts) in the body or the challenge.
 */
export function expectUnauthenticated(reply: Reply, code: string | string[] | RegExp, detail?: RegExp, token?: string) {
  expect(reply.status).toBe(401)
  expect(reply.headers.get('www-authenticate')).toStartWith('Bearer')
  expect(reply.headers.get('content-type')).toContain('application/json')
  expect(reply.body).toEqual({ detail: detail ? expect.stringMatching(detail) : expect.any(String), code: expect.any(String) })
  if (code instanceof RegExp) expect(reply.body.code).toMatch(code)
  else expect(Array.isArray(code) ? code : [code]).toContain(reply.body.code)
  if (token) {
    for (const part of [token, ...token.split('.').filter((p) => p.length > 8)]) {
      expect(reply.text).not.toContain(part)
      expect(reply.headers.get('www-authenticate')).not.toContain(part)
    }
  }
}

/** An RFC 8288 Link header as {rel: {path, query}}; every target must be a relative URL. */
export function parseLinks(header: string | null) {
  const out: Record<string, { path: string; query: Record<string, string> }> = {}
  for (const part of (header ?? '').split(/,(?=\s*<)/).filter((p) => p.trim())) {
    const match = part.trim().match(/^<(\/[^>]*)>; *rel="(\w+)"$/)
    if (!match) throw new Error(`not an RFC 8288 link with a relative target: ${part}`)
    const url = new URL(match[1]!, 'http://relative.invalid')
    out[match[2]!] = { path: url.pathname, query: Object.fromEntries(url.searchParams) }
  }
  return out
}

/**
 * A database of its own (closed after the file) whose every statement is told
 * to `onStatement`: for tests that read the SQL the service sends.
 */
export async function openWatchedDatabase(onStatement: (sql: string) => void): Promise<DatabaseHandle> {
  const watched = await openDatabase({
    databaseUrl: TEST_DATABASE_URL,
    dataDir: 'memory://',
    poolMax: 2,
    prepare: TEST_DATABASE_PREPARE,
    databaseTimeoutMs: 5000,
    onStatement,
  })
  afterAll(() => watched.close())
  return watched
}
