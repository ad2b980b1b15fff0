// Reminders across instances (CONTRACT.md, Time; Operation): a reminder
// claimed by one instance's scheduler reaches the user's streams on another
// through LISTEN/NOTIFY, and one fired while a listening connection was down
// is not lost. PostgreSQL only.
import { afterAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { type App, createApp } from '../src/app'
import { createHub, type Hub } from '../src/events/hub'
import { LISTENER_NAME, type Notifier, postgresNotifier } from '../src/events/notifier'
import { reminderScheduler, type Scheduler } from '../src/reminders/scheduler'
import { type EventReader, reminderStream } from './sse'
import { callAs, database, logger, logLines, signedInUser, TEST_DATABASE_LISTEN_URL, TEST_DATABASE_URL, testConfig } from './support'

const notifiers: Notifier[] = []
const readers: EventReader[] = []
afterAll(async () => {
  await Promise.all(readers.map((reader) => reader.close()))
  await Promise.all(notifiers.map((notifier) => notifier.close()))
})

const clock = new Date('2026-07-01T08:00:00Z')

/** An instance of the service: its streams, its LISTEN connection and its scheduler. */
async function instance(): Promise<{ app: App; hub: Hub; scheduler: Scheduler }> {
  const hub = createHub()
  const notifier = await postgresNotifier(TEST_DATABASE_LISTEN_URL!, hub, logger)
  notifiers.push(notifier)
  const app = await createApp({ database, config: testConfig(), logger, live: { hub, notifier }, now: () => clock })
  return { app, hub, scheduler: reminderScheduler({ db: database.db, notifier, logger }) }
}

async function streamOn({ app, hub }: { app: App; hub: Hub }, user: { id: string; token: string }): Promise<EventReader> {
  const reader = await reminderStream(app, hub, user)
  readers.push(reader)
  return reader
}

async function nextReminder(reader: EventReader, timeoutMs = 10_000) {
  for (;;) {
    const event = await reader.next(timeoutMs)
    if (event.event === 'reminder') return JSON.parse(event.data)
  }
}

describe.skipIf(TEST_DATABASE_URL === undefined)('reminders across instances (PostgreSQL)', () => {
  test("a reminder claimed by one instance reaches the user's streams on both", async () => {
    const [firing, watching] = [await instance(), await instance()]
    const user = await signedInUser('reminders')
    const there = await streamOn(watching, user)
    const here = await streamOn(firing, user)
    const created = await callAs(user.token)('POST', '/api/tasks', {
      on: firing.app,
      body: { title: 'across', reminders: [{ at: '2026-07-01T09:00:00Z' }] },
    })
    expect(created.status).toBe(201)
    await firing.scheduler.runOnce(new Date('2026-07-01T09:00:00Z'))
    const expected = { task_id: created.body.id, title: 'across', due_date: null, remind_at: '2026-07-01T09:00:00.000Z' }
    expect(await nextReminder(there)).toEqual(expected)
    expect(await nextReminder(here)).toEqual(expected)
  })

  test('fired while the listening connection was down: sent once it is back', async () => {
    const [firing, watching] = [await instance(), await instance()]
    const user = await signedInUser('reminders')
    const call = callAs(user.token)
    const there = await streamOn(watching, user)
    const reconnected = logLines.filter((line) => line.includes('listening for changes again')).length
    await database.db.execute(
      sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${LISTENER_NAME} and datname = current_database()`,
    )
    const created = await call('POST', '/api/tasks', {
      on: firing.app,
      body: { title: 'meanwhile', reminders: [{ at: '2026-07-01T10:00:00Z' }] },
    })
    await firing.scheduler.runOnce(new Date('2026-07-01T10:00:00Z'))
    expect((await nextReminder(there)).task_id).toBe(created.body.id)
    expect(logLines.filter((line) => line.includes('listening for changes again')).length).toBeGreaterThan(reconnected)
  })
})
