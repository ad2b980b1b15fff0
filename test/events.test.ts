// GET /api/events (CONTRACT.md, Live events): the changes after a position,
// then each new one as it commits; Last-Event-ID and ?cursor= resume; reset
// for a cursor too old; tickets for EventSource; the per-user limit; the
// heartbeat; a deleted account's streams end.

import { heapStats } from 'bun:jsc'
import { afterAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { createApp, localLive } from '../src/app'
import { eventTickets } from '../src/db/schema'
import { catchUp } from '../src/events/catch-up'
import { MAX_STREAMS_PER_USER } from '../src/events/hub'
import { feedPosition } from '../src/sync/feed'
import { DELETIONS_KEPT_DAYS, forgetDeletions } from '../src/sync/purge'
import { type EventReader, readEvents, untilTask, waitForComment } from './sse'
import { app, createTask, database, errorBody, logger, signedInUser, testConfig, type User, validationError } from './support'

const open: EventReader[] = []
afterAll(async () => {
  await Promise.all(open.map((reader) => reader.close()))
})

async function events(user: User | undefined, path = '/api/events', headers: Record<string, string> = {}, on = app) {
  const response = await on.handle(
    new Request(`http://localhost${path}`, { headers: { ...(user ? { authorization: `Bearer ${user.token}` } : {}), ...headers } }),
  )
  return response
}

async function stream(user: User, path?: string, headers?: Record<string, string>, on = app): Promise<EventReader> {
  const reader = readEvents(await events(user, path, headers, on))
  open.push(reader)
  // The first comment says the stream is open: what follows is live.
  await waitForComment(reader)
  return reader
}

describe('GET /api/events', () => {
  test('without a position: what happens from now on, each change as sync gives it, its id a cursor', async () => {
    const user = await signedInUser()
    const before = await createTask(user, { title: 'before' })
    const reader = await stream(user)
    const task = await createTask(user, { title: 'live' })
    const seen = await untilTask(reader, task.id)
    expect(seen.at(-1)!.change).toEqual({ type: 'task', op: 'upsert', id: task.id, data: task })
    expect(seen.slice(0, -1).map((event) => event.change.type)).toEqual(['list'])
    await user.call('DELETE', `/api/tasks/${before.id}`)
    const deleted = (await untilTask(reader, before.id)).at(-1)
    expect(deleted!.change).toEqual({ type: 'task', op: 'delete', id: before.id })
    // An event id is a sync cursor: nothing after the last one.
    const after = await user.call('GET', `/api/sync?cursor=${encodeURIComponent(deleted!.id)}`)
    expect(after.body.changes).toEqual([])
  })

  test('Last-Event-ID resumes after the last event received: nothing missed, nothing twice', async () => {
    const user = await signedInUser()
    const first = await stream(user)
    const one = await createTask(user, { title: 'one' })
    const seen = await untilTask(first, one.id)
    await first.close()
    const missed = [await createTask(user, { title: 'two' }), await createTask(user, { title: 'three' })]
    const resumed = await stream(user, '/api/events', { 'last-event-id': seen.at(-1)!.id })
    const changes = await resumed.changes(3)
    expect(changes.filter((c) => c.change.type === 'task').map((c) => c.change.id)).toEqual(missed.map((task) => task.id))
    // The Inbox comes once, in its latest state.
    expect(changes.filter((c) => c.change.type === 'list')).toHaveLength(1)
  })

  test('?cursor= from a sync answer: the changes after it, then live ones', async () => {
    const user = await signedInUser()
    const { cursor } = (await user.call('GET', '/api/sync')).body
    const task = await createTask(user, { title: 'after sync' })
    const reader = await stream(user, `/api/events?cursor=${encodeURIComponent(cursor)}`)
    await untilTask(reader, task.id)
    const live = await createTask(user, { title: 'live' })
    await untilTask(reader, live.id)
  })

  test('a cursor older than the deletions kept: one reset event, then the live changes', async () => {
    const user = await signedInUser()
    const { cursor } = (await user.call('GET', '/api/sync')).body
    const task = await createTask(user, { title: 'gone' })
    await user.call('DELETE', `/api/tasks/${task.id}`)
    await forgetDeletions(database.db, new Date(Date.now() + DELETIONS_KEPT_DAYS * 86_400_000 + 60_000))
    const reader = await stream(user, `/api/events?cursor=${encodeURIComponent(cursor)}`)
    expect((await reader.next()).event).toBe('reset')
    const live = await createTask(user, { title: 'live' })
    await untilTask(reader, live.id)
  })

  test('401 without a token, 422 for a malformed Last-Event-ID or cursor', async () => {
    const user = await signedInUser()
    const anonymous = await events(undefined)
    expect(anonymous.status).toBe(401)
    // Whatever the parameters: the token comes first; unknown ones (a cache buster) are ignored, as on the other reads.
    for (const query of ['?_=1', `?access_token=${user.token}`, '?cursor=nonsense&x=1']) {
      const reply = await events(undefined, `/api/events${query}`)
      const { code } = (await reply.json()) as { code: string }
      expect({ query, status: reply.status, code }).toEqual({ query, status: 401, code: 'token_missing' })
    }
    const busted = await stream(user, '/api/events?_=1700000000')
    await busted.close()
    const badId = await events(user, '/api/events', { 'last-event-id': 'nonsense' })
    expect([badId.status, await badId.json()]).toEqual([422, validationError('Last-Event-ID')])
    const badCursor = await events(user, '/api/events?cursor=nonsense')
    expect([badCursor.status, await badCursor.json()]).toEqual([422, validationError('cursor')])
  })

  test(`at most ${MAX_STREAMS_PER_USER} streams per user: the next is 429; closing one frees a place`, async () => {
    const user = await signedInUser()
    const readers = await Promise.all(Array.from({ length: MAX_STREAMS_PER_USER }, () => stream(user)))
    const refused = await events(user)
    expect([refused.status, await refused.json()]).toEqual([429, errorBody('too_many_streams')])
    expect(refused.headers.get('retry-after')).toBeTruthy()
    // Another user is not affected.
    await stream(await signedInUser())
    await readers[0]!.close()
    await stream(user)
  })

  test('requests refused by the limit while the last place was taken leave no stream running unseen', async () => {
    const user = await signedInUser()
    const liveStreams = () => {
      Bun.gc(true)
      return heapStats().objectTypeCounts.ReadableStream ?? 0
    }
    // Opens every stream the user may have, with ten requests at once for the last place; closes
    // them all and lets every answer go (not kept in `open`); returns how many were refused.
    async function race() {
      const opened = await Promise.all(Array.from({ length: MAX_STREAMS_PER_USER - 1 }, async () => readEvents(await events(user))))
      // Each of the ten passes the count, then all but one find the place taken.
      const replies = await Promise.all(Array.from({ length: 10 }, () => events(user)))
      for (const reply of replies) if (reply.status === 200) opened.push(readEvents(reply))
      const refused = replies.filter((reply) => reply.status === 429)
      await Promise.all([...opened.map((reader) => reader.close()), ...refused.map((reply) => reply.text())])
      return refused.length
    }
    const before = liveStreams()
    const refused = await race()
    expect(refused).toBe(9)
    // A refused stream would still run its heartbeat, holding what it read of the feed, for ever.
    // The others are let go within a few turns (bounded: 50 looks, 10 ms apart).
    let left = Number.POSITIVE_INFINITY
    for (let look = 0; look < 50 && left >= refused; look++) {
      await Bun.sleep(10)
      left = liveStreams() - before
    }
    expect(left).toBeLessThan(refused)
  })

  test('a client that stops reading holds its stream back: the feed is read no further until it reads again, then all arrives', async () => {
    const live = localLive()
    const watched = await createApp({ database, config: testConfig(), logger, live })
    const user = await signedInUser()
    const { cursor } = (await user.call('GET', '/api/sync')).body
    const start = await feedPosition(database.db, user.id)
    const created: { id: number }[] = []
    // About 290 KB of changes to catch up on, several times what a stream may hold: a control
    // character is six bytes in JSON, so each change is over 12 KB.
    for (let batch = 0; batch < 2; batch++)
      created.push(...(await Promise.all(Array.from({ length: 12 }, () => createTask(user, { description: '\u0001'.repeat(2000) })))))
    const top = await feedPosition(database.db, user.id)
    const response = await events(user, `/api/events?cursor=${encodeURIComponent(cursor)}`, {}, watched)
    // Unread, the stream stops short of the end (bounded: 50 looks, 20 ms apart, until its position holds still).
    let position = -1
    for (let look = 0, still = 0; look < 50 && still < 5; look++) {
      await Bun.sleep(20)
      const now = live.hub.positions().get(user.id)!
      still = now === position ? still + 1 : 0
      position = now
    }
    // It holds about 64 KiB, not a whole page of the feed (up to 200 changes) nor the whole catch-up.
    expect((position - start) * 12_000).toBeLessThan(2 * 64 * 1024)
    expect(position).toBeLessThan(top)
    const reader = readEvents(response)
    open.push(reader)
    // Each task once (in feed order, which concurrent creates need not give in id order).
    const tasks: number[] = []
    while (tasks.length < created.length) {
      const [next] = await reader.changes(1)
      if (next!.change.type === 'task') tasks.push(next!.change.id)
    }
    const byId = (a: number, b: number) => a - b
    expect(tasks.sort(byId)).toEqual(created.map((task) => task.id).sort(byId))
  })

  test("a deleted account's streams get the deletions, then end", async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'a' })
    const reader = await stream(user)
    expect((await user.call('DELETE', '/api/auth/me')).status).toBe(204)
    const gone = await untilTask(reader, task.id)
    expect(gone.at(-1)!.change).toEqual({ type: 'task', op: 'delete', id: task.id })
    await reader.ended()
  })

  test('a lost notification: the catch-up sweep wakes the streams that are behind', async () => {
    const live = localLive()
    const watched = await createApp({ database, config: testConfig(), logger, live })
    const user = await signedInUser()
    const reader = await stream(user, '/api/events', {}, watched)
    // Written through an instance that tells nobody: no notification reaches this stream.
    const task = await createTask(user, { title: 'unannounced' })
    expect(await catchUp(database.db, live.hub)).toBe(1)
    await untilTask(reader, task.id)
    expect(await catchUp(database.db, live.hub)).toBe(0)
  })

  test('the catch-up sweep works for an instance holding streams of more users than a statement has parameters', async () => {
    const live = localLive()
    const watched = await createApp({ database, config: testConfig(), logger, live })
    const user = await signedInUser()
    const reader = await stream(user, '/api/events', {}, watched)
    // 70,000 other users' streams, as the hub holds them (real ones would need as many connections); their feeds never moved.
    for (let i = 0; i < 70_000; i++)
      live.hub.add({ userId: `idle-${i}`, wake: () => {}, position: () => 0, remind: () => {}, noticePosition: () => 0, end: () => {} })
    const task = await createTask(user, { title: 'unannounced' })
    expect(await catchUp(database.db, live.hub)).toBe(1)
    await untilTask(reader, task.id)
  })

  test('a comment line keeps a quiet stream open', async () => {
    const quick = await createApp({ database, config: testConfig(), logger, live: { ...localLive(), heartbeatMs: 30 } })
    const user = await signedInUser()
    const reader = await stream(user, '/api/events', {}, quick)
    const deadline = Date.now() + 5000
    while (reader.comments.filter((line) => line === ': keep-alive').length < 2) {
      expect(Date.now()).toBeLessThan(deadline)
      await Bun.sleep(10)
    }
  })
})

describe('POST /api/events/ticket', () => {
  test('a ticket opens one stream, once, within 60 s; with no Authorization header', async () => {
    const user = await signedInUser()
    const issued = await user.call('POST', '/api/events/ticket')
    expect(issued.status).toBe(200)
    expect(issued.body).toEqual({ ticket: expect.any(String), expires_at: expect.any(String) })
    const expiresIn = Date.parse(issued.body.expires_at) - Date.now()
    expect(expiresIn).toBeGreaterThan(50_000)
    expect(expiresIn).toBeLessThanOrEqual(60_000)
    const path = `/api/events?ticket=${encodeURIComponent(issued.body.ticket)}`
    const reader = readEvents(await events(undefined, path))
    open.push(reader)
    await waitForComment(reader)
    const task = await createTask(user, { title: 'via ticket' })
    await untilTask(reader, task.id)
    // Used up.
    expect((await events(undefined, path)).status).toBe(401)
  })

  test('an unknown or expired ticket is 401; a ticket is no bearer token elsewhere', async () => {
    const user = await signedInUser()
    expect((await events(undefined, '/api/events?ticket=made-up')).status).toBe(401)
    const { ticket } = (await user.call('POST', '/api/events/ticket')).body
    await database.db.update(eventTickets).set({ expiresAt: sql`now() - interval '1 second'` })
    expect((await events(undefined, `/api/events?ticket=${encodeURIComponent(ticket)}`)).status).toBe(401)
    const fresh = (await user.call('POST', '/api/events/ticket')).body.ticket
    const misuse = await app.handle(new Request('http://localhost/api/tasks', { headers: { authorization: `Bearer ${fresh}` } }))
    expect(misuse.status).toBe(401)
    expect((await user.call('POST', '/api/events/ticket')).status).toBe(200)
    // A ticket outlives no account: deleting it spends the tickets issued for it.
    const { ticket: before } = (await user.call('POST', '/api/events/ticket')).body
    expect((await user.call('DELETE', '/api/auth/me')).status).toBe(204)
    expect((await events(undefined, `/api/events?ticket=${encodeURIComponent(before)}`)).status).toBe(401)
  })

  test('a body is read as every write reads one: 413 past 64 KiB, 400, 415, 422 for one nested too deep; never a 500', async () => {
    const user = await signedInUser()
    const json = { 'content-type': 'application/json' }
    const cases: [string, string, Record<string, string>, number][] = [
      ['100 KB', JSON.stringify({ x: 'a'.repeat(100_000) }), json, 413],
      ['nested 60,000 deep', `${'['.repeat(60_000)}${']'.repeat(60_000)}`, json, 413],
      ['nested 30,000 deep', `${'['.repeat(30_000)}${']'.repeat(30_000)}`, json, 422],
      ['malformed', '{bad', json, 400],
      ['not JSON', 'hello', { 'content-type': 'text/plain' }, 415],
    ]
    for (const [name, raw, headers, status] of cases) {
      // With a key too: its fingerprint is made from the body.
      const reply = await user.call('POST', '/api/events/ticket', { raw, headers: { ...headers, 'idempotency-key': crypto.randomUUID() } })
      expect({ name, status: reply.status }).toEqual({ name, status })
      expect(reply.body).toEqual({
        detail: expect.any(String),
        code: expect.any(String),
        ...(status === 422 ? { errors: expect.any(Array) } : {}),
      })
    }
    expect((await user.call('POST', '/api/events/ticket', { raw: '{}', headers: json })).status).toBe(200)
  })
})
