// Live events across instances (CONTRACT.md, Live events; Operation): a write
// committed on one instance reaches streams on another through PostgreSQL
// LISTEN/NOTIFY, and a listening connection that drops loses nothing.
import { afterAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { type App, createApp } from '../src/app'
import { createHub } from '../src/events/hub'
import { LISTENER_NAME, type Notifier, postgresNotifier } from '../src/events/notifier'
import { type EventReader, readEvents } from './sse'
import { callAs, database, logger, logLines, signedInUser, TEST_DATABASE_LISTEN_URL, TEST_DATABASE_URL, testConfig } from './support'

const notifiers: Notifier[] = []
const readers: EventReader[] = []
afterAll(async () => {
  await Promise.all(readers.map((reader) => reader.close()))
  await Promise.all(notifiers.map((notifier) => notifier.close()))
})

/** An instance of the service with its own streams and its own LISTEN connection. */
async function instance(): Promise<App> {
  const hub = createHub()
  const notifier = await postgresNotifier(TEST_DATABASE_LISTEN_URL!, hub, logger)
  notifiers.push(notifier)
  return createApp({ database, config: testConfig(), logger, live: { hub, notifier } })
}

async function streamOn(app: App, token: string): Promise<EventReader> {
  const reader = readEvents(await app.handle(new Request('http://localhost/api/events', { headers: { authorization: `Bearer ${token}` } })))
  readers.push(reader)
  const deadline = Date.now() + 5000
  while (reader.comments.length === 0) {
    if (Date.now() > deadline) throw new Error('the stream never opened')
    await Bun.sleep(5)
  }
  return reader
}

async function nextTask(reader: EventReader, timeoutMs = 10_000): Promise<number> {
  for (;;) {
    const [next] = await reader.changes(1, timeoutMs)
    if (next!.change.type === 'task') return next!.change.id
  }
}

describe.skipIf(TEST_DATABASE_URL === undefined)('live events across instances (PostgreSQL)', () => {
  test('a write on one instance reaches a stream of the same user on another', async () => {
    const [writer, reader] = [await instance(), await instance()]
    const user = await signedInUser()
    const stream = await streamOn(reader, user.token)
    const created = await callAs(user.token)('POST', '/api/tasks', { on: writer, body: { title: 'from the other instance' } })
    expect(created.status).toBe(201)
    expect(await nextTask(stream)).toBe(created.body.id)
  })

  test('the listening connection killed mid-stream: it comes back and the stream gets what was written meanwhile, once', async () => {
    const [writer, reader] = [await instance(), await instance()]
    const user = await signedInUser()
    const call = callAs(user.token)
    const stream = await streamOn(reader, user.token)
    const first = await call('POST', '/api/tasks', { on: writer, body: { title: 'before' } })
    expect(await nextTask(stream)).toBe(first.body.id)
    await database.db.execute(
      sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${LISTENER_NAME} and datname = current_database()`,
    )
    // Written while nobody listens: its notification is lost.
    const during = await call('POST', '/api/tasks', { on: writer, body: { title: 'during' } })
    expect(await nextTask(stream)).toBe(during.body.id)
    const after = await call('POST', '/api/tasks', { on: writer, body: { title: 'after' } })
    expect(await nextTask(stream)).toBe(after.body.id)
    // The connection really went and came back (both instances' listeners were killed).
    expect(logLines.filter((line) => line.includes('listening for changes again')).length).toBeGreaterThanOrEqual(2)
  })
})
