import { afterAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import packageJson from '../package.json'
import { createApp } from '../src/app'
import type { Database, DatabaseHandle } from '../src/db/client'
import * as schema from '../src/db/schema'
import { closedPort, silentListener } from './sockets'
import {
  app,
  call,
  createTask,
  database,
  errorBody,
  expectNoLeak,
  logger,
  logLines,
  signedInUser,
  type TestApp,
  testConfig,
} from './support'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Yields turns of the event loop (never a timed sleep) so that a late second line would be seen. */
async function logLinesFor(requestId: string) {
  const find = () => logLines.map((line) => JSON.parse(line)).filter((line) => line.request_id === requestId && line.message === 'request')
  for (let turn = 0; turn < 200 && !find().length; turn++) await new Promise((resolve) => setImmediate(resolve))
  // A few more turns of the event loop, so that a second line for the same request would be seen.
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve))
  return find()
}

describe('framework errors are JSON', () => {
  test('an unknown route is 404 not_found', async () => {
    for (const path of ['/nope', '/api/nope', '/api/tasks/1/nope']) {
      const reply = await call('GET', path)
      expect(reply.status).toBe(404)
      expect(reply.headers.get('content-type')).toContain('application/json')
      expect(reply.body).toEqual(errorBody('not_found'))
    }
  })

  test('a wrong method on a known path is 405 with Allow', async () => {
    const user = await signedInUser()
    for (const [method, path, allowed] of [
      ['POST', '/health', ['GET']],
      ['DELETE', '/api/tasks', ['GET', 'POST']],
      ['PUT', '/api/tasks', ['GET', 'POST']],
      ['POST', '/api/tasks/1', ['GET', 'PUT', 'PATCH', 'DELETE']],
      ['GET', '/api/tasks/1/complete', ['PATCH']],
    ] as const) {
      const reply = await user.call(method, path)
      expect(reply.status).toBe(405)
      expect(reply.body).toEqual({ detail: expect.stringContaining(method), code: 'method_not_allowed' })
      const allow = (reply.headers.get('allow') ?? '').split(',').map((m) => m.trim())
      expect(allow).toEqual(expect.arrayContaining([...allowed]))
      expect(allow).not.toContain(method)
    }
  })

  test('malformed JSON is 400 invalid_json; a body that is not JSON is 415', async () => {
    const user = await signedInUser()
    for (const raw of ['{"title":', '{title: "x"}', "{'title': 'x'}"]) {
      const reply = await user.call('POST', '/api/tasks', { raw, headers: { 'content-type': 'application/json' } })
      expect(reply.status).toBe(400)
      expect(reply.body).toEqual({ detail: expect.stringMatching(/json/i), code: 'invalid_json' })
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const reply = await user.call('POST', '/api/tasks', { raw: 'title=x', headers: { 'content-type': type } })
      expect(reply.status).toBe(415)
      expect(reply.body).toEqual({ detail: expect.stringContaining('application/json'), code: 'unsupported_media_type' })
    }
    expect((await user.call('GET', '/api/tasks')).body).toEqual([])
  })

  test('application/json with a charset and application/merge-patch+json are accepted', async () => {
    const user = await signedInUser()
    const created = await user.call('POST', '/api/tasks', {
      raw: JSON.stringify({ title: 'charset' }),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ title: 'charset', completed: false })
    const patched = await user.call('PATCH', `/api/tasks/${created.body.id}`, {
      raw: JSON.stringify({ title: 'merged' }),
      headers: { 'content-type': 'application/merge-patch+json' },
    })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({ id: created.body.id, title: 'merged' })
  })

  test('a body over 64 KiB declared by Content-Length is 413', async () => {
    const user = await signedInUser()
    const raw = JSON.stringify({ title: 'big', description: 'x'.repeat(66 * 1024) })
    const reply = await user.call('POST', '/api/tasks', {
      raw,
      headers: { 'content-type': 'application/json', 'content-length': String(raw.length) },
    })
    expect(reply.status).toBe(413)
    expect(reply.body).toEqual({ detail: expect.stringContaining('64 KiB'), code: 'payload_too_large' })
    expect((await user.call('GET', '/api/tasks')).body).toEqual([])
  })

  test('a streamed body without Content-Length is 413 once past 64 KiB, without reading it all', async () => {
    const user = await signedInUser()
    let pulled = 0
    const stream = new ReadableStream<Uint8Array>({
      pull: (controller) =>
        void (++pulled < 200
          ? controller.enqueue(new TextEncoder().encode(pulled === 1 ? '{"title":"s","description":"' : 'x'.repeat(16384)))
          : controller.close()),
    })
    const request = new Request('http://localhost/api/tasks', {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    } as RequestInit)
    expect(request.headers.get('content-length')).toBeNull()
    const response = await app.handle(request)
    expect(response.status).toBe(413)
    expect(await response.json()).toEqual({ detail: expect.stringContaining('64 KiB'), code: 'payload_too_large' })
    expect(pulled).toBeLessThan(20)
  })
})

describe('X-Request-Id and the access log', () => {
  test('every response carries a generated X-Request-Id: success, 401, 404, 405, 422, health', async () => {
    const user = await signedInUser()
    for (const [method, path, status, token] of [
      ['GET', '/', 200, user.token],
      ['GET', '/api/tasks', 401, undefined],
      ['GET', '/missing', 404, undefined],
      ['DELETE', '/health', 405, undefined],
      ['GET', '/api/tasks/abc', 422, user.token],
      ['GET', '/health', 200, undefined],
    ] as const) {
      const reply = await call(method, path, { token })
      expect(reply.status).toBe(status)
      expect(reply.body).toBeObject()
      expect(reply.headers.get('x-request-id')).toMatch(UUID)
    }
  })

  test('a sane incoming id is echoed; an insane one is replaced', async () => {
    const echoed = await call('GET', '/', { headers: { 'x-request-id': 'abc-123' } })
    expect(echoed.status).toBe(200)
    expect(echoed.headers.get('x-request-id')).toBe('abc-123')
    for (const insane of ['a'.repeat(300), '<script>alert(1)</script>', 'two words', '"quoted"']) {
      const reply = await call('GET', '/', { headers: { 'x-request-id': insane } })
      expect(reply.status).toBe(200)
      expect(reply.body.docs).toBe('/docs')
      expect(reply.headers.get('x-request-id')).toMatch(UUID)
    }
  })

  test('one JSON line per request, handled or refused, with method, route, status, duration and id; never a token or password', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    const requests: {
      method: string
      path: string
      status: number
      route: RegExp
      body?: object
      token?: string
      headers?: Record<string, string>
      raw?: string
    }[] = [
      { method: 'GET', path: `/api/tasks?access_token=${user.token}`, status: 200, route: /^\/api\/tasks$/ },
      { method: 'GET', path: `/api/tasks/${task.id}?token=${user.token}`, status: 200, route: /^\/api\/tasks\/(:id|\{id\})$/ },
      { method: 'POST', path: '/api/tasks', status: 422, route: /^\/api\/tasks$/, body: { title: 'x', password: 'hunter2-very-secret' } },
      { method: 'GET', path: '/api/tasks', status: 401, route: /^\/api\/tasks$/, token: `${user.token}x` },
      { method: 'DELETE', path: `/api/tasks/${task.id}`, status: 204, route: /^\/api\/tasks\/(:id|\{id\})$/ },
      {
        method: 'OPTIONS',
        path: '/api/tasks',
        status: 204,
        route: /^\/(\*)?/,
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
      },
      { method: 'GET', path: '/health', status: 200, route: /^\/health$/ },
      { method: 'GET', path: '/api/nope', status: 404, route: /^\/api\/nope$/ },
      { method: 'PUT', path: '/api/tasks', status: 405, route: /^\/api\/tasks$/ },
      {
        method: 'POST',
        path: '/api/tasks',
        status: 413,
        route: /^\/api\/tasks$/,
        raw: '{}',
        headers: { 'content-length': '70000', 'content-type': 'application/json' },
      },
    ]
    for (const { method, path, status, route, body, token, headers, raw } of requests) {
      const requestId = `log-${crypto.randomUUID()}`
      const reply = await call(method, path, { token: token ?? user.token, body, raw, headers: { ...headers, 'x-request-id': requestId } })
      expect(reply.status).toBe(status)
      expect(reply.headers.get('x-request-id')).toBe(requestId)
      const lines = await logLinesFor(requestId)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({
        level: status >= 500 ? 'error' : 'info',
        method,
        status,
        request_id: requestId,
        route: expect.stringMatching(route),
      })
      expect(lines[0].duration_ms).toBeWithin(0, 10_000)
    }
    for (const line of logLines) {
      expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true)
      expect(line).not.toContain(user.token)
      expect(line).not.toContain(user.token.split('.')[2]!)
      expect(line).not.toContain('hunter2-very-secret')
    }
  })
})

describe('CORS', () => {
  const origin = 'http://localhost:3000'
  const preflight = (from: string, on?: TestApp) =>
    call('OPTIONS', '/api/tasks', {
      on,
      headers: {
        origin: from,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization,content-type,if-match',
      },
    })
  const list = (header: string | null) => (header ?? '').split(',').map((h) => h.trim().toLowerCase())

  test('the frontend origin: preflight allows credentials, methods and headers; responses expose ETag, X-Total-Count, Link, Location', async () => {
    const reply = await preflight(origin)
    expect([200, 204]).toContain(reply.status)
    expect(reply.text).toBe('')
    expect(reply.headers.get('access-control-allow-origin')).toBe(origin)
    expect(reply.headers.get('access-control-allow-credentials')).toBe('true')
    expect(list(reply.headers.get('access-control-allow-methods'))).toEqual(
      expect.arrayContaining(['get', 'post', 'put', 'patch', 'delete', 'options']),
    )
    expect(list(reply.headers.get('access-control-allow-headers'))).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'if-match']),
    )
    const user = await signedInUser()
    const get = await user.call('GET', '/api/tasks', { headers: { origin } })
    expect(get.status).toBe(200)
    expect(get.body).toEqual([])
    expect(get.headers.get('access-control-allow-origin')).toBe(origin)
    expect(list(get.headers.get('access-control-expose-headers'))).toEqual(
      expect.arrayContaining(['etag', 'x-total-count', 'link', 'location']),
    )
  })

  test('another origin is not allowed', async () => {
    const user = await signedInUser()
    const reply = await user.call('GET', '/api/tasks', { headers: { origin: 'http://evil.example' } })
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual([])
    for (const allowed of [
      reply.headers.get('access-control-allow-origin'),
      (await preflight('http://evil.example')).headers.get('access-control-allow-origin'),
    ])
      expect(['http://evil.example', '*']).not.toContain(allowed)
  })

  test('a caller without an Origin (a server, curl) is allowed no origin, and told the answer varies by Origin', async () => {
    const user = await signedInUser()
    const reply = await user.call('GET', '/api/tasks')
    expect(reply.status).toBe(200)
    expect(reply.headers.get('vary')).toBe('Origin')
    expect(reply.headers.get('access-control-allow-origin')).toBeNull()
    const refused = await preflight('http://evil.example')
    expect(refused.status).toBe(204)
    expect(refused.headers.get('vary')).toBe('Origin')
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('CORS_ORIGINS with two origins allows both and only them', async () => {
    const two = await createApp({
      database,
      config: testConfig({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' }),
      logger,
    })
    for (const allowed of ['https://app.example.com', 'https://admin.example.com']) {
      const reply = await preflight(allowed, two)
      expect([200, 204]).toContain(reply.status)
      expect(reply.headers.get('access-control-allow-origin')).toBe(allowed)
    }
    expect((await preflight(origin, two)).headers.get('access-control-allow-origin')).not.toBe(origin)
  })
})

test('PostgreSQL itself cancels statements past DATABASE_TIMEOUT_MS, unless a pooler refuses the startup parameter', async () => {
  const direct = database.kind === 'postgres' && process.env.TEST_THROUGH_POOLER !== '1'
  expect(database.serverTimeouts).toBe(direct)
  if (direct) {
    const rows = (await database.db.execute(sql`show statement_timeout`)) as unknown as { statement_timeout: string }[]
    expect(rows[0]?.statement_timeout).toBe('5s') // test/support.ts opens it with databaseTimeoutMs 5000
  }
})

test('GET / names the service and GET /health is ok', async () => {
  const root = await call('GET', '/')
  expect(root.status).toBe(200)
  expect(root.body).toEqual({ name: expect.any(String), version: packageJson.version, docs: '/docs' })
  const health = await call('GET', '/health')
  expect(health.status).toBe(200)
  expect(health.body).toEqual({ status: 'ok', database: 'ok' })
})

describe('database unavailable', () => {
  const cleanups: (() => unknown)[] = []
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
  })

  /** A DatabaseHandle on a real postgres.js client, as src/db/client.ts builds it, pointed at a dead port. */
  function appOn(port: number) {
    const client = postgres(`postgres://todo:not-the-password@127.0.0.1:${port}/todo`, { max: 2, connect_timeout: 5, onnotice: () => {} })
    const db = drizzle(client, { schema }) as unknown as Database
    const handle: DatabaseHandle = {
      db,
      kind: 'postgres',
      serverTimeouts: false,
      description: `PostgreSQL at 127.0.0.1:${port}/todo`,
      ping: async () => {
        await client`select 1`
      },
      close: () => client.end({ timeout: 1 }),
    }
    cleanups.push(() => handle.close())
    return createApp({ database: handle, config: testConfig(), logger })
  }
  function silentPort() {
    const listener = silentListener()
    cleanups.push(() => listener.stop(true))
    return listener.port
  }

  for (const [name, port] of [
    ['nothing listens', closedPort],
    ['the server accepts and never answers', silentPort],
  ] as const) {
    test(`/health is 503 within 2.5 s when ${name}`, async () => {
      const down = await appOn(port())
      const started = performance.now()
      const reply = await call('GET', '/health', { on: down })
      expect(performance.now() - started).toBeLessThan(2500)
      expect(reply.status).toBe(503)
      expect(reply.body).toEqual({ status: expect.any(String), database: 'unavailable' })
    })
  }

  test('a task request is 503 with Retry-After and nothing internal', async () => {
    const down = await appOn(closedPort())
    const user = await signedInUser()
    for (const [method, path, body] of [
      ['GET', '/api/tasks'],
      ['POST', '/api/tasks', { title: 'x' }],
      ['GET', '/api/tasks/1'],
    ] as const) {
      const started = performance.now()
      const reply = await user.call(method, path, { on: down, body })
      expect(performance.now() - started).toBeLessThan(2500)
      expect(reply.status).toBe(503)
      expect(reply.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(reply.body).toEqual(errorBody('database_unavailable'))
      expectNoLeak(reply.text)
      expect(reply.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|not-the-password/)
    }
  })
})

describe('OpenAPI', () => {
  test('GET /docs loads every script and style from this service', async () => {
    const page = await call('GET', '/docs')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const urls = [...page.text.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!)
    expect(urls.length).toBeGreaterThanOrEqual(2)
    expect(page.text).not.toMatch(/<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?\/\//i)
    for (const url of urls) {
      expect(url).toMatch(/^\/[^/]/)
      const asset = await call('GET', url)
      expect(asset.status).toBe(200)
      expect(asset.headers.get('content-type')).toMatch(url.endsWith('.css') ? /text\/css/ : /javascript/)
      expect(asset.text.length).toBeGreaterThan(1000)
      expect(asset.text).not.toMatch(/@import\s+url\(\s*["']?https?:|@font-face[^}]*url\(\s*["']?https?:/i)
    }
  })
})
