// Conditional reads (CONTRACT.md, Sync: conditional requests): an ETag on
// every GET of a collection or a resource, and If-None-Match answered 304,
// for a collection after reading only the user's feed position.
import { describe, expect, test } from 'bun:test'
import { createApp } from '../src/app'
import { call, createTask, logger, makeList, openWatchedDatabase, signedInUser, testConfig, tokenFor, userId } from './support'

const COLLECTIONS = ['/api/tasks', '/api/tasks?status=pending&limit=5', '/api/lists']

describe('If-None-Match', () => {
  test('collections: 304 with the same ETag and no body while nothing changed; any change of lists or tasks makes it 200', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'a' })
    for (const path of COLLECTIONS) {
      const first = await user.call('GET', path)
      const etag = first.headers.get('etag')!
      expect(etag).toMatch(/^"[^"]+"$/)
      const again = await user.call('GET', path, { headers: { 'if-none-match': etag } })
      expect(again.status).toBe(304)
      expect(again.text).toBe('')
      expect(again.headers.get('etag')).toBe(etag)
      // A list of tags, and weak comparison, as RFC 9110 has it.
      expect((await user.call('GET', path, { headers: { 'if-none-match': `"x", W/${etag}` } })).status).toBe(304)
      expect((await user.call('GET', path, { headers: { 'if-none-match': '"x"' } })).status).toBe(200)
    }
    const writes: [string, string, Record<string, unknown>?][] = [
      ['PATCH', `/api/tasks/${task.id}`, { title: 'b' }],
      ['PATCH', `/api/tasks/${task.id}/complete`],
      ['POST', '/api/lists', { name: 'Work' }],
      ['DELETE', `/api/tasks/${task.id}`],
    ]
    for (const [method, path, body] of writes) {
      const tags = await Promise.all(COLLECTIONS.map(async (path) => (await user.call('GET', path)).headers.get('etag')!))
      expect((await user.call(method, path, { body })).status).toBeLessThan(300)
      for (const [i, collection] of COLLECTIONS.entries()) {
        const reply = await user.call('GET', collection, { headers: { 'if-none-match': tags[i]! } })
        expect(reply.status).toBe(200)
        expect(reply.headers.get('etag')).not.toBe(tags[i])
      }
    }
  })

  test("another query's or another user's ETag does not match", async () => {
    const user = await signedInUser()
    const other = await signedInUser()
    await createTask(user, { title: 'a' })
    const mine = (await user.call('GET', '/api/tasks')).headers.get('etag')!
    expect((await user.call('GET', '/api/tasks?status=pending', { headers: { 'if-none-match': mine } })).status).toBe(200)
    expect((await other.call('GET', '/api/tasks', { headers: { 'if-none-match': mine } })).status).toBe(200)
  })

  test('single resources: the ETag of If-Match, and 304 while it is current', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'a' })
    const list = await makeList(user, 'Work')
    for (const path of [`/api/tasks/${task.id}`, `/api/lists/${list}`]) {
      const first = await user.call('GET', path)
      const etag = first.headers.get('etag')!
      const again = await user.call('GET', path, { headers: { 'if-none-match': etag } })
      expect(again.status).toBe(304)
      expect(again.text).toBe('')
      expect(again.headers.get('etag')).toBe(etag)
    }
    await user.call('PATCH', `/api/tasks/${task.id}`, { body: { title: 'b' } })
    const stale = (await user.call('GET', `/api/tasks/${task.id}`)).headers.get('etag')!
    await user.call('PATCH', `/api/tasks/${task.id}`, { body: { title: 'c' } })
    expect((await user.call('GET', `/api/tasks/${task.id}`, { headers: { 'if-none-match': stale } })).status).toBe(200)
  })

  test('a 304 of a collection reads only the feed position, not the tasks or lists', async () => {
    const statements: string[] = []
    const database = await openWatchedDatabase((sql) => statements.push(sql))
    const app = await createApp({ database, config: testConfig(), logger })
    const token = await tokenFor(userId('conditional'))
    await call('POST', '/api/tasks', { on: app, token, body: { title: 'a' } })
    for (const path of ['/api/tasks', '/api/lists']) {
      const etag = (await call('GET', path, { on: app, token })).headers.get('etag')!
      statements.length = 0
      expect((await call('GET', path, { on: app, token, headers: { 'if-none-match': etag } })).status).toBe(304)
      expect(statements).toHaveLength(1)
      expect(statements[0]).toMatch(/^select "change_position" from "task_quotas" where "task_quotas"."user_id" = \$1$/)
    }
  })
})
