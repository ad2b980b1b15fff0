// The database misbehaving under the service: stopped, silent, partitioned,
// killing backends, timing statements out, out of connections, failing in
// the middle of a transaction. Each ends in a quick 503, never a hang, and
// the service recovers without a restart. PostgreSQL only: PGlite runs in
// process and cannot fail this way.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import postgres from 'postgres'
import { type App, createApp } from '../src/app'
import { loadConfig } from '../src/config'
import { type DatabaseHandle, openDatabase } from '../src/db/client'
import { type FaultProxy, startFaultProxy } from './fault-proxy'
import { type CallOptions, call, logger, logLines, type Reply, TEST_DATABASE_URL, testConfig, tokenFor, userId } from './support'

// They kill backends and count connections, which needs the server itself, not a pooler.
const THROUGH_POOLER = process.env.TEST_THROUGH_POOLER === '1'
if (!TEST_DATABASE_URL) console.warn('database fault tests skipped: they need PostgreSQL (set TEST_DATABASE_URL)')
else if (THROUGH_POOLER) console.warn('database fault tests skipped: they need a direct connection, not a pooler')

const DEADLINE_MS = 1000
const POOL = 4
// What "quickly" means below: the deadline plus room for a loaded CI machine.
const PROMPT_MS = DEADLINE_MS + 1000

describe.if(Boolean(TEST_DATABASE_URL) && !THROUGH_POOLER)('database faults (PostgreSQL through a misbehaving proxy)', () => {
  // Built in beforeAll: describe.if still runs this body when it skips.
  const name = `todo_faults_${crypto.randomUUID().replaceAll('-', '')}`
  let server: postgres.Sql
  let url: URL
  let direct: postgres.Sql
  // Each test gets its own proxy, pool and app: one fault's leftovers never
  // decide the next test.
  let proxy: FaultProxy
  let database: DatabaseHandle
  let app: App

  beforeAll(async () => {
    server = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} })
    url = new URL(TEST_DATABASE_URL!)
    url.pathname = `/${name}`
    await server.unsafe(`create database ${name}`)
    direct = postgres(url.toString(), { max: 2, onnotice: () => {} })
  })

  beforeEach(async () => {
    proxy = startFaultProxy(Number(url.port || 5432), url.hostname)
    const proxied = new URL(url)
    proxied.host = `127.0.0.1:${proxy.port}`
    database = await openDatabase({
      databaseUrl: proxied.toString(),
      dataDir: 'memory://',
      poolMax: POOL,
      prepare: true,
      databaseTimeoutMs: DEADLINE_MS,
    })
    app = await createApp({ database, config: testConfig(), logger })
  })

  afterEach(async () => {
    await database.close()
    proxy.close()
  })

  afterAll(async () => {
    await direct?.end({ timeout: 1 })
    await server.unsafe(`drop database if exists ${name} with (force)`)
    await server.end()
  })

  async function timed(method: string, path: string, options: CallOptions = {}): Promise<Reply & { ms: number }> {
    const start = performance.now()
    const reply = await call(method, path, { ...options, on: app })
    return { ...reply, ms: performance.now() - start }
  }

  function expect503(reply: Reply & { ms: number }, codes: string[]) {
    expect({ status: reply.status, quick: reply.ms < PROMPT_MS, retryAfter: Number(reply.headers.get('retry-after')) > 0 }).toEqual({
      status: 503,
      quick: true,
      retryAfter: true,
    })
    expect(codes).toContain(reply.body.code)
    expect(reply.text).not.toMatch(/select|postgres:\/\/|\bat .*\.ts/i)
  }

  /** Requests until one succeeds; each is bounded by the deadline, so this is too. */
  async function recovered(token: string): Promise<number> {
    const seen: string[] = []
    for (let attempt = 1; attempt <= 20; attempt++) {
      const reply = await timed('GET', '/api/tasks', { token })
      if (reply.status === 200) return attempt
      seen.push(`${reply.body?.code} after ${Math.round(reply.ms)} ms`)
    }
    const causes = logLines
      .filter((line) => line.includes('"level":"warn"'))
      .slice(-3)
      .map((line) => JSON.parse(line).cause)
    throw new Error(`the service did not recover: ${seen.join(', ')}; last causes: ${causes.join(' | ')}`)
  }

  async function user() {
    const token = await tokenFor(userId('fault'))
    const created = await timed('POST', '/api/tasks', { token, body: { title: 'before the fault' } })
    expect(created.status).toBe(201)
    return { token, id: created.body.id as number }
  }

  test('PostgreSQL stopped: 503 with Retry-After within 2 s, /health unavailable; back: served again, no restart', async () => {
    const { token } = await user()
    proxy.refuse()
    expect503(await timed('GET', '/api/tasks', { token }), ['database_unavailable'])
    expect503(await timed('POST', '/api/tasks', { token, body: { title: 'while down' } }), ['database_unavailable'])
    const health = await timed('GET', '/health')
    expect({ status: health.status, body: health.body, quick: health.ms < 2500 }).toEqual({
      status: 503,
      body: { status: 'unavailable', database: 'unavailable' },
      quick: true,
    })
    proxy.restore()
    const back = await timed('GET', '/api/tasks', { token })
    expect(back.status).toBe(200)
    expect(back.body.map((task: { title: string }) => task.title)).toEqual(['before the fault'])
    expect((await timed('GET', '/health')).status).toBe(200)
  })

  test('a server that accepts connections and never answers: 503 by the deadline, then recovery', async () => {
    const token = await tokenFor(userId('fault'))
    // The pool has opened no connection yet: its first one goes into the black hole.
    proxy.blackhole()
    const silent = await timed('GET', '/api/tasks', { token })
    expect503(silent, ['database_timeout'])
    expect(silent.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50)
    proxy.pass()
    proxy.reset()
    expect(await recovered(token)).toBeLessThanOrEqual(20)
  })

  test('a partition in the middle of a query: 503 by the deadline; healed: the pool serves again', async () => {
    const { token } = await user()
    expect((await timed('GET', '/api/tasks', { token })).status).toBe(200) // connections open
    proxy.pause()
    expect503(await timed('GET', '/api/tasks', { token }), ['database_timeout', 'database_busy'])
    expect503(await timed('PATCH', '/api/tasks/1/complete', { token }), ['database_timeout', 'database_busy'])
    proxy.pass()
    expect(await recovered(token)).toBeLessThanOrEqual(20)
  })

  test('with the default DATABASE_TIMEOUT_MS, a partitioned database answers 503 within 3 s in total', async () => {
    const defaults = loadConfig({})
    expect(defaults.databaseTimeoutMs).toBe(2000)
    const proxied = new URL(url)
    proxied.host = `127.0.0.1:${proxy.port}`
    const handle = await openDatabase({ ...defaults, databaseUrl: proxied.toString(), poolMax: POOL })
    try {
      const onDefaults = await createApp({ database: handle, config: testConfig(), logger })
      const token = await tokenFor(`fault-${crypto.randomUUID()}`)
      expect((await call('GET', '/api/tasks', { token, on: onDefaults })).status).toBe(200) // connections open
      proxy.pause()
      for (const [method, path] of [
        ['GET', '/api/tasks'],
        ['PATCH', '/api/tasks/1/complete'],
      ] as const) {
        const start = performance.now()
        const reply = await call(method, path, { token, on: onDefaults })
        expect({ status: reply.status, code: reply.body.code, within3s: performance.now() - start < 3000 }).toEqual({
          status: 503,
          code: 'database_timeout',
          within3s: true,
        })
      }
      proxy.pass()
    } finally {
      await handle.close()
    }
  })

  test('backends killed with pg_terminate_backend: at worst a 503, then served again', async () => {
    const { token } = await user()
    expect((await timed('GET', '/api/tasks', { token })).status).toBe(200)
    const killed =
      await direct`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and application_name = 'todo-api'`
    expect(killed.length).toBeGreaterThan(0)
    const next = await timed('GET', '/api/tasks', { token })
    expect(next.ms).toBeLessThan(PROMPT_MS)
    if (next.status !== 200) expect503(next, ['database_unavailable'])
    expect(await recovered(token)).toBeLessThanOrEqual(3)
  })

  test('a statement blocked past DATABASE_TIMEOUT_MS is cancelled by PostgreSQL itself: 503 database_timeout, nothing committed', async () => {
    const { token } = await user()
    // Held lock: the create's quota upsert waits on it past the timeout, and
    // the statement_timeout the service sets on its connections ends it.
    await direct.begin(async (tx) => {
      await tx`select * from task_quotas for update`
      const blocked = await timed('POST', '/api/tasks', { token, body: { title: 'blocked' } })
      expect503(blocked, ['database_timeout'])
      expect(blocked.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50)
      // The server's verdict (SQLSTATE 57014, query_canceled), not the service's own deadline.
      const cause = logLines.findLast((line) => line.includes('"level":"warn"'))
      expect(JSON.parse(cause!).cause).toStartWith('57014')
    })
    // The lock is released: a create that had only been abandoned would commit now.
    expect(await recovered(token)).toBeLessThanOrEqual(3)
    expect((await timed('GET', '/api/tasks', { token })).body.map((task: { title: string }) => task.title)).toEqual(['before the fault'])
  })

  test('pool exhaustion: a bounded wait then a fast 503, never a queue; connections never above the pool size', async () => {
    const { token } = await user()
    let peak = 0
    await direct.begin(async (tx) => {
      await tx`select * from task_quotas for update`
      const replies = await Promise.all(Array.from({ length: 40 }, () => timed('POST', '/api/tasks', { token, body: { title: 'queued' } })))
      const [row] = await direct`select count(*)::int as n from pg_stat_activity where datname = ${name} and application_name = 'todo-api'`
      peak = row!.n
      for (const reply of replies) expect503(reply, ['database_busy', 'database_timeout'])
    })
    expect(peak).toBeLessThanOrEqual(POOL)
    expect(await recovered(token)).toBeLessThanOrEqual(3)
    // Every create was refused or rolled back: nothing was half-made.
    expect((await timed('GET', '/api/tasks', { token })).body).toHaveLength(1)
  })

  test('a fault between two writes of one transaction commits nothing', async () => {
    const { token } = await user()
    await timed('POST', '/api/tasks', { token, body: { title: 'second' } })
    const before = await timed('GET', '/api/tasks', { token })
    // Account deletion deletes the tasks, then the quota row, in one transaction.
    // The quota row is locked, so the transaction stops after its first write.
    await direct.begin(async (tx) => {
      await tx`select * from task_quotas for update`
      expect503(await timed('DELETE', '/api/auth/me', { token }), ['database_timeout'])
    })
    const after = await timed('GET', '/api/tasks', { token })
    expect(after.body).toEqual(before.body)
    // And when the backend is killed between the two writes instead of timing out.
    await direct.begin(async (tx) => {
      await tx`select * from task_quotas for update`
      const deleting = timed('DELETE', '/api/auth/me', { token })
      let killed = false
      // Until the transaction waits on the lock, after its first write (bounded: 100 looks, 10 ms apart).
      for (let attempt = 0; attempt < 100 && !killed; attempt++) {
        const [waiting] =
          await direct`select pid from pg_stat_activity where datname = ${name} and application_name = 'todo-api' and wait_event_type = 'Lock'`
        if (waiting) killed = (await direct`select pg_terminate_backend(${waiting.pid}) as done`)[0]!.done
        else await Bun.sleep(10)
      }
      expect(killed).toBe(true)
      expect503(await deleting, ['database_unavailable'])
    })
    expect(await recovered(token)).toBeLessThanOrEqual(3)
    expect((await timed('GET', '/api/tasks', { token })).body).toEqual(before.body)
    expect((await timed('DELETE', '/api/auth/me', { token })).status).toBe(204)
    expect((await timed('GET', '/api/tasks', { token })).body).toEqual([])
  })

  describe('Idempotency-Key when the database fails around the write', () => {
    // Holds rows from outside the service: the user's (a create waits on it) and the key's.
    let admin: postgres.Sql
    beforeAll(() => {
      admin = postgres(url.toString(), { max: 3, onnotice: () => {} })
    })
    afterAll(async () => {
      await admin?.end({ timeout: 1 })
    })

    /** Runs `hold` in a transaction of its own, kept open until the returned release is called. */
    async function holding(hold: (tx: postgres.TransactionSql) => Promise<unknown>) {
      const held = Promise.withResolvers<void>()
      const release = Promise.withResolvers<void>()
      const done = admin.begin(async (tx) => {
        await hold(tx)
        held.resolve()
        await release.promise
      })
      done.catch(held.reject)
      await held.promise
      return async () => {
        release.resolve()
        await done
      }
    }

    /**
     * A user's second create, sent with an Idempotency-Key: it has claimed the key and waits on
     * the user's row until releaseWrite; the key's row is locked until releaseKey, so the key can
     * be neither kept nor freed meanwhile.
     */
    async function heldWrite() {
      const sub = userId('fault-key')
      const token = await tokenFor(sub)
      const key = `key-${crypto.randomUUID()}`
      expect((await timed('POST', '/api/tasks', { token, body: { title: 'first' } })).status).toBe(201)
      const releaseWrite = await holding((tx) => tx`select * from task_quotas where user_id = ${sub} for update`)
      const writing = timed('POST', '/api/tasks', { token, body: { title: 'second' }, headers: { 'idempotency-key': key } })
      // Until the claim is in (bounded: 200 looks, 5 ms apart).
      let claimed = false
      for (let attempt = 0; attempt < 200 && !claimed; attempt++) {
        claimed = (await admin`select 1 from idempotency_keys where user_id = ${sub} and key = ${key}`).length > 0
        if (!claimed) await Bun.sleep(5)
      }
      expect(claimed).toBe(true)
      const releaseKey = await holding((tx) => tx`select * from idempotency_keys where user_id = ${sub} and key = ${key} for update`)
      return { token, writing, releaseWrite, releaseKey }
    }

    const titles = async (token: string) =>
      (await timed('GET', '/api/tasks', { token })).body.map((task: { title: string }) => task.title).sort()

    test('a write that fails and whose key cannot be freed either: still a JSON 503, never a bare 500', async () => {
      const { token, writing, releaseWrite, releaseKey } = await heldWrite()
      // The create times out on the user's row; freeing the key would wait on the key's row.
      const reply = await writing
      await releaseKey()
      await releaseWrite()
      expect503(reply, ['database_timeout', 'database_busy'])
      expect(reply.headers.get('content-type')).toContain('application/json')
      expect(await titles(token)).toEqual(['first'])
    })

    test('a write that committed but whose answer cannot be kept: the client still gets that answer, not a 503 inviting a retry', async () => {
      const { token, writing, releaseWrite, releaseKey } = await heldWrite()
      // The create commits; keeping its answer waits on the key's row past the deadline.
      await releaseWrite()
      const reply = await writing
      await releaseKey()
      expect({ status: reply.status, title: reply.body.title }).toEqual({ status: 201, title: 'second' })
      expect(await titles(token)).toEqual(['first', 'second'])
    })
  })
})
