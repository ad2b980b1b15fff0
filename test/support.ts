// Shared by every test file: one database per test process (PGlite in memory,
// or PostgreSQL when TEST_DATABASE_URL is set), migrated once; tests isolate
// themselves with random user ids.
import { SignJWT } from 'jose'
import { createApp } from '../src/app'
import { type Config, loadConfig } from '../src/config'
import { type DatabaseHandle, openDatabase } from '../src/db/client'
import { createLogger, type Logger } from '../src/http/logger'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined
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

export async function tokenFor(sub: string | undefined, claims: Record<string, unknown> = {}, key = secret, alg = 'HS256') {
  const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt()
  if (sub !== undefined) jwt.setSubject(sub)
  if (!('exp' in claims)) jwt.setExpirationTime('1h')
  return jwt.sign(new TextEncoder().encode(key))
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

/** A user with a valid token and a `call` bound to it. */
export async function signedInUser(label = 'user') {
  const id = userId(label)
  const token = await tokenFor(id)
  return {
    id,
    token,
    call: <T = any>(method: string, path: string, options: Omit<CallOptions, 'token'> = {}) => call<T>(method, path, { ...options, token }),
  }
}

export type User = Awaited<ReturnType<typeof signedInUser>>

export async function createTask(user: User, body: Record<string, unknown> = {}) {
  const reply = await user.call('POST', '/api/tasks', { body: { title: 'A task', ...body } })
  if (reply.status !== 201) throw new Error(`createTask: ${reply.status} ${reply.text}`)
  return reply.body as { id: number; title: string; [field: string]: unknown }
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
