// Idempotency-Key (CONTRACT.md, Sync: retries): a repeated write gets its
// first answer again and changes nothing, on any instance; a different
// request with the key is 422, one still running 409; 5xx are not kept.
import { describe, expect, test } from 'bun:test'
import { and, eq, sql } from 'drizzle-orm'
import { createApp } from '../src/app'
import { idempotencyKeys } from '../src/db/schema'
import { sweep } from '../src/housekeeping'
import { call, createTask, database, errorBody, logger, signedInUser, testConfig, type User, validationError } from './support'

const key = () => `key-${crypto.randomUUID()}`

async function taskTitles(user: User): Promise<string[]> {
  const reply = await user.call('GET', '/api/tasks?limit=1000&sort=created_at&order=asc')
  return reply.body.map((task: { title: string }) => task.title)
}

async function age(user: User, idempotencyKey: string, interval: string) {
  await database.db
    .update(idempotencyKeys)
    .set({ createdAt: sql`${idempotencyKeys.createdAt} - ${interval}::interval` })
    .where(and(eq(idempotencyKeys.userId, user.id), eq(idempotencyKeys.key, idempotencyKey)))
}

describe('Idempotency-Key', () => {
  test('a repeat gets the first answer again (status, headers, body), marked replayed, and creates nothing', async () => {
    const user = await signedInUser()
    const headers = { 'idempotency-key': key() }
    const first = await user.call('POST', '/api/tasks', { body: { title: 'once' }, headers })
    expect(first.status).toBe(201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    const again = await user.call('POST', '/api/tasks', { body: { title: 'once' }, headers })
    expect(again.status).toBe(201)
    expect(again.body).toEqual(first.body)
    expect(again.headers.get('location')).toBe(first.headers.get('location'))
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'))
    expect(again.headers.get('content-type')).toContain('application/json')
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'))
    expect(await taskTitles(user)).toEqual(['once'])
  })

  test('every write: PATCH, move, toggle, DELETE (204) and list routes replay; the task is toggled once', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'a' })
    const writes: [string, string, unknown?][] = [
      ['PATCH', `/api/tasks/${task.id}`, { title: 'b' }],
      ['PATCH', `/api/tasks/${task.id}/complete`],
      ['POST', '/api/lists', { name: 'Work' }],
      ['DELETE', `/api/tasks/${task.id}`],
    ]
    for (const [method, path, body] of writes) {
      const headers = { 'idempotency-key': key() }
      const first = await user.call(method, path, { body, headers })
      const again = await user.call(method, path, { body, headers })
      expect([again.status, again.text, again.headers.get('idempotent-replayed')]).toEqual([first.status, first.text, 'true'])
      expect(again.headers.get('x-request-id')).toBeTruthy()
      if (method === 'PATCH' && path.endsWith('complete')) expect(again.body.completed).toBe(true)
    }
  })

  test('4xx answers are kept too: a repeat of a 404 or a 409 is the same answer', async () => {
    const user = await signedInUser()
    const headers = { 'idempotency-key': key() }
    const first = await user.call('PATCH', `/api/tasks/${Number.MAX_SAFE_INTEGER}`, { body: { title: 'x' }, headers })
    expect(first.status).toBe(404)
    const again = await user.call('PATCH', `/api/tasks/${Number.MAX_SAFE_INTEGER}`, { body: { title: 'x' }, headers })
    expect([again.status, again.body, again.headers.get('idempotent-replayed')]).toEqual([404, first.body, 'true'])
  })

  test('the same key with another body or path: 422 idempotency_key_reused, nothing changes', async () => {
    const user = await signedInUser()
    const headers = { 'idempotency-key': key() }
    expect((await user.call('POST', '/api/tasks', { body: { title: 'one' }, headers })).status).toBe(201)
    const otherBody = await user.call('POST', '/api/tasks', { body: { title: 'two' }, headers })
    expect(otherBody.status).toBe(422)
    expect(otherBody.body).toEqual(errorBody('idempotency_key_reused'))
    const otherPath = await user.call('POST', '/api/lists', { body: { title: 'one' }, headers })
    expect(otherPath.status).toBe(422)
    expect(await taskTitles(user)).toEqual(['one'])
  })

  test('the same body with its fields in another order is the same request: replayed, not refused', async () => {
    const user = await signedInUser()
    const headers = { 'idempotency-key': key(), 'content-type': 'application/json' }
    const first = await user.call('POST', '/api/tasks', { raw: '{"title":"once","priority":"high","tags":["a","b"]}', headers })
    expect(first.status).toBe(201)
    const again = await user.call('POST', '/api/tasks', {
      raw: '{ "tags": ["a", "b"], "priority": "high", "title": "once" }',
      headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
    })
    expect([again.status, again.body, again.headers.get('idempotent-replayed')]).toEqual([201, first.body, 'true'])
    // The order of a list is part of the request.
    const reordered = await user.call('POST', '/api/tasks', { raw: '{"title":"once","priority":"high","tags":["b","a"]}', headers })
    expect(reordered.body).toEqual(errorBody('idempotency_key_reused'))
    expect(await taskTitles(user)).toEqual(['once'])
  })

  test("keys are the caller's: another user with the same key runs their own request", async () => {
    const [alice, bob] = [await signedInUser(), await signedInUser()]
    const headers = { 'idempotency-key': key() }
    expect((await alice.call('POST', '/api/tasks', { body: { title: 'alice' }, headers })).status).toBe(201)
    const theirs = await bob.call('POST', '/api/tasks', { body: { title: 'bob' }, headers })
    expect(theirs.status).toBe(201)
    expect(theirs.headers.get('idempotent-replayed')).toBeNull()
    expect(await taskTitles(bob)).toEqual(['bob'])
  })

  test('a key still running: 409 idempotency_key_in_flight with Retry-After; abandoned past a minute, a retry takes it over', async () => {
    const user = await signedInUser()
    const idempotencyKey = key()
    // A first request that claimed the key and has not answered (or whose instance died).
    const first = await user.call('POST', '/api/tasks', { body: { title: 'x' }, headers: { 'idempotency-key': idempotencyKey } })
    await database.db
      .update(idempotencyKeys)
      .set({ status: null, body: null })
      .where(and(eq(idempotencyKeys.userId, user.id), eq(idempotencyKeys.key, idempotencyKey)))
    const running = await user.call('POST', '/api/tasks', { body: { title: 'x' }, headers: { 'idempotency-key': idempotencyKey } })
    expect(running.status).toBe(409)
    expect(running.body).toEqual(errorBody('idempotency_key_in_flight'))
    expect(running.headers.get('retry-after')).toBe('1')
    await age(user, idempotencyKey, '61 seconds')
    const retried = await user.call('POST', '/api/tasks', { body: { title: 'x' }, headers: { 'idempotency-key': idempotencyKey } })
    expect(retried.status).toBe(201)
    expect(retried.body.id).not.toBe(first.body.id)
  })

  test('after 24 hours a key is free again', async () => {
    const user = await signedInUser()
    const idempotencyKey = key()
    await user.call('POST', '/api/tasks', { body: { title: 'old' }, headers: { 'idempotency-key': idempotencyKey } })
    await age(user, idempotencyKey, '24 hours 1 second')
    const reply = await user.call('POST', '/api/tasks', { body: { title: 'new' }, headers: { 'idempotency-key': idempotencyKey } })
    expect(reply.status).toBe(201)
    expect(await taskTitles(user)).toEqual(['old', 'new'])
  })

  test('the same key racing, on two instances of the service: the write runs once', async () => {
    const other = await createApp({ database, config: testConfig(), logger })
    const user = await signedInUser()
    const headers = { 'idempotency-key': key() }
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call('POST', '/api/tasks', { on: i % 2 ? other : undefined, token: user.token, body: { title: 'race' }, headers }),
      ),
    )
    const statuses = replies.map((reply) => reply.status)
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true)
    const created = new Set(replies.filter((reply) => reply.status === 201).map((reply) => reply.body.id))
    expect(created.size).toBe(1)
    expect(await taskTitles(user)).toEqual(['race'])
  })

  test('a key that is not 1 to 255 printable ASCII characters: 422 naming Idempotency-Key, nothing created', async () => {
    const user = await signedInUser()
    for (const bad of ['x'.repeat(256), 'naïve', 'tab\there']) {
      const reply = await user.call('POST', '/api/tasks', { body: { title: 'x' }, headers: { 'idempotency-key': bad } })
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError('Idempotency-Key'))
    }
    expect(await taskTitles(user)).toEqual([])
  })

  // Last in this file: the sweep forgets every key in the database.
  test('the hourly sweep forgets keys past 24 hours, and only those', async () => {
    const user = await signedInUser()
    const idempotencyKey = key()
    await user.call('POST', '/api/tasks', { body: { title: 'a' }, headers: { 'idempotency-key': idempotencyKey } })
    const kept = () =>
      database.db
        .select({ key: idempotencyKeys.key })
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.userId, user.id), eq(idempotencyKeys.key, idempotencyKey)))
    await sweep(database.db, new Date(Date.now() + 23 * 3_600_000))
    expect(await kept()).toHaveLength(1)
    expect((await sweep(database.db, new Date(Date.now() + 25 * 3_600_000))).idempotencyKeys).toBeGreaterThan(0)
    expect(await kept()).toHaveLength(0)
  })
})
