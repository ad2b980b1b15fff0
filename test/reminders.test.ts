// Reminders (CONTRACT.md, Time): up to five per task, {before_minutes} or
// {at}; answered everywhere a task is; scheduled from the task row on an app
// whose clock the file pins, recomputed when what they count from changes;
// fired once by the scheduler (runOnce, called directly: no test waits on the
// wall clock) as `event: reminder` on the user's live streams.
import { afterAll, describe, expect, test } from 'bun:test'
import { and, asc, eq } from 'drizzle-orm'
import { createApp, localLive } from '../src/app'
import { reminderFirings, webhookDeliveries } from '../src/db/schema'
import { catchUp } from '../src/events/catch-up'
import { sweep } from '../src/housekeeping'
import { NOTICES_KEPT_MS, readNotices } from '../src/reminders/notices'
import { reminderScheduler, reminderWebhooks } from '../src/reminders/scheduler'
import { answerOf, errorOf, mcpClient } from './mcp-client'
import { type EventReader, reminderStream } from './sse'
import { callAs, database, logger, signedInUser, signedUpUser, testConfig, type User, validationError } from './support'

let clock = new Date('2026-03-01T12:00:00Z')
const live = localLive()
const timed = await createApp({ database, config: testConfig(), logger, live, now: () => clock })
const scheduler = reminderScheduler({ db: database.db, notifier: live.notifier, logger })

const open: EventReader[] = []
afterAll(async () => {
  await Promise.all(open.map((reader) => reader.close()))
})

/** A user of the pinned-clock app, in `zone` when given. */
async function userIn(zone?: string): Promise<User> {
  const user = await signedInUser('reminders')
  const bound = {
    ...user,
    call: ((method, path, options = {}) => callAs(user.token)(method, path, { on: timed, ...options })) as User['call'],
  }
  if (zone) expect((await bound.call('PATCH', '/api/settings', { body: { time_zone: zone } })).status).toBe(200)
  return bound
}

async function create(user: User, body: Record<string, unknown>) {
  const reply = await user.call('POST', '/api/tasks', { body: { title: 'Call the dentist', ...body } })
  expect(reply.status).toBe(201)
  return reply.body as { id: number; reminders: unknown[]; [field: string]: unknown }
}

/** When the task's reminders fire next, by index (what the scheduler will claim). */
async function firings(user: User, taskId: number): Promise<Record<number, string>> {
  const rows = await database.db
    .select({ reminder: reminderFirings.reminder, fireAt: reminderFirings.fireAt })
    .from(reminderFirings)
    .where(and(eq(reminderFirings.userId, user.id), eq(reminderFirings.taskId, taskId)))
    .orderBy(asc(reminderFirings.reminder))
  return Object.fromEntries(rows.map((row) => [row.reminder, new Date(row.fireAt).toISOString()]))
}

/** What the user's streams were told, oldest first. */
const noticesOf = async (user: User) => (await readNotices(database.db, user.id, 0, 100)).map((notice) => notice.data)

/** A live stream of the user's on the pinned-clock app, open and knowing where its reminders start. */
async function streamOf(user: User, on = timed, hub = live.hub): Promise<EventReader> {
  const reader = await reminderStream(on, hub, user)
  open.push(reader)
  return reader
}

async function nextReminder(reader: EventReader) {
  for (;;) {
    const event = await reader.next()
    if (event.event === 'reminder') return { id: event.id, data: JSON.parse(event.data) }
  }
}

describe('reminders on a task', () => {
  test('created, answered as given (at in UTC) on the task, GET, sync and the live stream; PUT and PATCH replace the whole set', async () => {
    const user = await userIn()
    const reader = await streamOf(user)
    const reminders = [{ before_minutes: 30 }, { at: '2026-03-10T10:00:00+01:00' }]
    const task = await create(user, { due_date: '2026-03-10T15:00:00Z', reminders })
    const answered = [{ before_minutes: 30 }, { at: '2026-03-10T09:00:00.000Z' }]
    expect(task.reminders).toEqual(answered)
    expect((await user.call('GET', `/api/tasks/${task.id}`)).body.reminders).toEqual(answered)
    const synced = (await user.call('GET', '/api/sync')).body.changes.find((change: any) => change.type === 'task' && change.id === task.id)
    expect(synced.data.reminders).toEqual(answered)
    for (;;) {
      const [change] = await reader.changes(1)
      if (change!.change.type === 'task') {
        expect(change!.change.data.reminders).toEqual(answered)
        break
      }
    }
    const put = await user.call('PUT', `/api/tasks/${task.id}`, { body: { reminders: [{ before_minutes: 0 }] } })
    expect(put.status).toBe(200)
    expect(put.body.reminders).toEqual([{ before_minutes: 0 }])
    const patched = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { reminders: [] } })
    expect(patched.body.reminders).toEqual([])
    expect(await firings(user, task.id)).toEqual({})
    // A task created without them has none.
    expect((await create(user, {})).reminders).toEqual([])
  })

  test('422 naming the reminder and the field at fault; nothing is stored', async () => {
    const user = await userIn()
    const task = await create(user, { reminders: [{ before_minutes: 10 }] })
    const cases: [unknown, string][] = [
      [[{ before_minutes: 1 }, { at: '2026-03-10T10:00:00Z' }, { before_minutes: 40_321 }], 'reminders[2].before_minutes'],
      [[{ before_minutes: -1 }], 'reminders[0].before_minutes'],
      [[{ before_minutes: 1.5 }], 'reminders[0].before_minutes'],
      [[{ before_minutes: 5, snooze: 1 }], 'reminders[0].snooze'],
      [[{ before_minutes: 5 }, { before_minutes: 5, at: '2026-03-10T10:00:00Z' }], 'reminders[1]'],
      [[{}], 'reminders[0]'],
      [[{ at: '2026-03-10T10:00:00' }], 'reminders[0].at'],
      [[{ at: '2026-03-10' }], 'reminders[0].at'],
      [[{ at: '2026-02-30T10:00:00Z' }], 'reminders[0].at'],
      [[1], 'reminders[0]'],
      [Array.from({ length: 6 }, () => ({ before_minutes: 5 })), 'reminders'],
      ['soon', 'reminders'],
      [null, 'reminders'],
    ]
    for (const [reminders, field] of cases) {
      const created = await user.call('POST', '/api/tasks', { body: { title: 'refused', reminders } })
      expect({ reminders, status: created.status, body: created.body }).toEqual({ reminders, status: 422, body: validationError(field) })
      const changed = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { reminders } })
      expect({ reminders, status: changed.status, body: changed.body }).toEqual({ reminders, status: 422, body: validationError(field) })
    }
    const kept = await user.call('GET', `/api/tasks/${task.id}`)
    expect(kept.body.reminders).toEqual([{ before_minutes: 10 }])
    expect((await user.call('GET', '/api/tasks')).body).toHaveLength(1)
    // Five is the limit, 40320 minutes (four weeks) the longest.
    const five = Array.from({ length: 5 }, (_, i) => ({ before_minutes: i * 10_080 }))
    expect((await user.call('PATCH', `/api/tasks/${task.id}`, { body: { reminders: five } })).body.reminders).toEqual(five)
  })

  test('MCP add_task and update_task take reminders and answer them', async () => {
    const user = await userIn()
    const client = await mcpClient(user.token, timed)
    const added = answerOf(
      await client.callTool({
        name: 'add_task',
        arguments: { title: 'From an agent', due_date: '2026-03-10T15:00:00Z', reminders: [{ at: '2026-03-10T14:00:00-05:00' }] },
      }),
    )
    expect(added.reminders).toEqual([{ at: '2026-03-10T19:00:00.000Z' }])
    expect(await firings(user, added.id)).toEqual({ 0: '2026-03-10T19:00:00.000Z' })
    const updated = answerOf(
      await client.callTool({ name: 'update_task', arguments: { task_id: added.id, reminders: [{ before_minutes: 15 }] } }),
    )
    expect(updated.reminders).toEqual([{ before_minutes: 15 }])
    expect(await firings(user, added.id)).toEqual({ 0: '2026-03-10T14:45:00.000Z' })
    const refused = errorOf(
      await client.callTool({ name: 'update_task', arguments: { task_id: added.id, reminders: [{ at: 'tomorrow' }] } }),
    )
    expect(refused.errors).toEqual([{ field: 'reminders[0].at', message: expect.any(String) }])
    await client.close()
  })
})

describe('when reminders fire', () => {
  test('a timed task: before its due moment, whatever the zone; a whole day: from 09:00 of that day in the user zone (Berlin, New York)', async () => {
    clock = new Date('2026-03-01T12:00:00Z')
    const reminders = [{ before_minutes: 60 }, { before_minutes: 1440 }, { at: '2026-03-09T08:15:00Z' }]
    for (const [zone, wholeDay] of [
      // Berlin is UTC+1 on 9 and 10 March.
      ['Europe/Berlin', { 0: '2026-03-10T07:00:00.000Z', 1: '2026-03-09T08:00:00.000Z' }],
      // New York went to daylight saving time (UTC-4) on 8 March.
      ['America/New_York', { 0: '2026-03-10T12:00:00.000Z', 1: '2026-03-09T13:00:00.000Z' }],
    ] as const) {
      const user = await userIn(zone)
      const moment = await create(user, { due_date: '2026-03-10T15:00:00Z', reminders })
      expect(await firings(user, moment.id)).toEqual({
        0: '2026-03-10T14:00:00.000Z',
        1: '2026-03-09T15:00:00.000Z',
        2: '2026-03-09T08:15:00.000Z',
      })
      const day = await create(user, { due_date: '2026-03-10', reminders })
      expect(await firings(user, day.id)).toEqual({ ...wholeDay, 2: '2026-03-09T08:15:00.000Z' })
    }
  })

  test('across a daylight saving change: a day before 09:00 of the day after is 09:00 local of the day before', async () => {
    clock = new Date('2026-03-01T12:00:00Z')
    const user = await userIn('Europe/Berlin')
    // Berlin moves to UTC+2 at 01:00 UTC on 29 March.
    const day = await create(user, { due_date: '2026-03-30', reminders: [{ before_minutes: 1440 }] })
    expect(await firings(user, day.id)).toEqual({ 0: '2026-03-29T07:00:00.000Z' })
  })

  test('recomputed when the due date, the reminders or the time zone change; a relative one waits for a due date', async () => {
    clock = new Date('2026-03-01T12:00:00Z')
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { reminders: [{ before_minutes: 30 }, { at: '2026-03-20T12:00:00Z' }] })
    // No due date yet: the relative reminder is kept, and scheduled once there is one.
    expect(task.reminders).toEqual([{ before_minutes: 30 }, { at: '2026-03-20T12:00:00.000Z' }])
    expect(await firings(user, task.id)).toEqual({ 1: '2026-03-20T12:00:00.000Z' })
    const patch = async (body: Record<string, unknown>) =>
      expect((await user.call('PATCH', `/api/tasks/${task.id}`, { body })).status).toBe(200)
    await patch({ due_date: '2026-03-10T15:00:00Z' })
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-10T14:30:00.000Z', 1: '2026-03-20T12:00:00.000Z' })
    await patch({ due_date: '2026-03-11T15:00:00+01:00' })
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-11T13:30:00.000Z', 1: '2026-03-20T12:00:00.000Z' })
    await patch({ reminders: [{ before_minutes: 0 }] })
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-11T14:00:00.000Z' })
    // A whole day, then the user moves: its reminders move with the zone; a timed task's do not.
    await patch({ due_date: '2026-03-12' })
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-12T08:00:00.000Z' })
    const moment = await create(user, { due_date: '2026-03-12T18:00:00Z', reminders: [{ before_minutes: 60 }] })
    expect((await user.call('PATCH', '/api/settings', { body: { time_zone: 'America/New_York' } })).status).toBe(200)
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-12T13:00:00.000Z' })
    expect(await firings(user, moment.id)).toEqual({ 0: '2026-03-12T17:00:00.000Z' })
    // Clearing the due date unschedules the relative ones.
    await patch({ due_date: null })
    expect(await firings(user, task.id)).toEqual({})
    // Changing anything else leaves the schedule alone.
    await patch({ due_date: '2026-03-12', title: 'renamed' })
    await patch({ title: 'renamed again', priority: 'high' })
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-12T13:00:00.000Z' })
  })

  test('a reminder whose time has passed when it is set does not fire; the others fire once, at their time', async () => {
    clock = new Date('2026-04-01T12:00:00Z')
    const user = await userIn()
    const task = await create(user, {
      title: 'Standup',
      due_date: '2026-04-01T12:10:00Z',
      reminders: [{ before_minutes: 30 }, { before_minutes: 5 }, { at: '2026-04-01T11:00:00Z' }],
    })
    expect(await firings(user, task.id)).toEqual({ 1: '2026-04-01T12:05:00.000Z' })
    await scheduler.runOnce(new Date('2026-04-01T12:04:59.999Z'))
    expect(await noticesOf(user)).toEqual([])
    await scheduler.runOnce(new Date('2026-04-01T12:05:00Z'))
    const fired = [{ task_id: task.id, title: 'Standup', due_date: '2026-04-01T12:10:00.000Z', remind_at: '2026-04-01T12:05:00.000Z' }]
    expect(await noticesOf(user)).toEqual(fired)
    await scheduler.runOnce(new Date('2026-04-01T13:00:00Z'))
    expect(await noticesOf(user)).toEqual(fired)
    // Set again later (the same reminders): their times have passed, nothing is scheduled.
    clock = new Date('2026-04-01T12:06:00Z')
    await user.call('PUT', `/api/tasks/${task.id}`, { body: { reminders: [{ before_minutes: 30 }, { before_minutes: 5 }] } })
    expect(await firings(user, task.id)).toEqual({})
  })

  test('one already due but not yet claimed still fires when the task is written again that second, beside its recomputed one', async () => {
    clock = new Date('2026-04-01T13:00:00Z')
    const user = await userIn()
    const task = await create(user, { title: 'Lunch', due_date: '2026-04-01T13:30:00Z', reminders: [{ before_minutes: 15 }] })
    // 13:15: due, and the scheduler has not run yet when the client PUTs the whole task with a later due date.
    clock = new Date('2026-04-01T13:15:00.400Z')
    const put = await user.call('PUT', `/api/tasks/${task.id}`, {
      body: { title: 'Lunch', due_date: '2026-04-01T14:00:00Z', reminders: [{ before_minutes: 15 }] },
    })
    expect(put.status).toBe(200)
    await scheduler.runOnce(new Date('2026-04-01T13:15:01Z'))
    expect((await noticesOf(user)).map((notice) => notice.remind_at)).toEqual(['2026-04-01T13:15:00.000Z'])
    expect(await firings(user, task.id)).toEqual({ 0: '2026-04-01T13:45:00.000Z' })
    await scheduler.runOnce(new Date('2026-04-01T13:45:00Z'))
    expect((await noticesOf(user)).map((notice) => notice.remind_at)).toEqual(['2026-04-01T13:15:00.000Z', '2026-04-01T13:45:00.000Z'])
  })

  test('a recurring task: completing it moves its relative reminders to the next occurrence (across the Berlin DST change); a passed {at} stays passed', async () => {
    clock = new Date('2026-03-27T06:00:00Z')
    const user = await userIn('Europe/Berlin')
    const task = await create(user, {
      title: 'Water the plants',
      due_date: '2026-03-27T09:00:00+01:00',
      recurrence: { rule: 'FREQ=DAILY' },
      reminders: [{ before_minutes: 30 }, { at: '2026-03-27T07:00:00Z' }],
    })
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-27T07:30:00.000Z', 1: '2026-03-27T07:00:00.000Z' })
    await scheduler.runOnce(new Date('2026-03-27T07:30:00Z'))
    // Completed late, by the toggle: 09:00 in Berlin on the 28th, still CET.
    clock = new Date('2026-03-27T10:00:00Z')
    const rolled = await user.call('PATCH', `/api/tasks/${task.id}/complete`)
    expect([rolled.status, rolled.body.completed, rolled.body.due_date]).toEqual([200, false, '2026-03-28T08:00:00.000Z'])
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-28T07:30:00.000Z' })
    await scheduler.runOnce(new Date('2026-03-28T07:30:00Z'))
    // Completed by PATCH completed: true: 09:00 on the 29th is CEST, an hour earlier in UTC, and so is its reminder.
    clock = new Date('2026-03-28T09:00:00Z')
    const again = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { completed: true } })
    expect([again.status, again.body.due_date]).toEqual([200, '2026-03-29T07:00:00.000Z'])
    expect(await firings(user, task.id)).toEqual({ 0: '2026-03-29T06:30:00.000Z' })
    await scheduler.runOnce(new Date('2026-03-29T06:30:00Z'))
    expect((await noticesOf(user)).map((notice) => [notice.remind_at, notice.due_date])).toEqual([
      ['2026-03-27T07:00:00.000Z', '2026-03-27T08:00:00.000Z'],
      ['2026-03-27T07:30:00.000Z', '2026-03-27T08:00:00.000Z'],
      ['2026-03-28T07:30:00.000Z', '2026-03-28T08:00:00.000Z'],
      ['2026-03-29T06:30:00.000Z', '2026-03-29T07:00:00.000Z'],
    ])
  })

  test("a completed task's reminders do not fire; reopened before their time, they do; deleting the task deletes them", async () => {
    clock = new Date('2026-04-02T08:00:00Z')
    const user = await userIn()
    const done = await create(user, { due_date: '2026-04-02T10:00:00Z', reminders: [{ before_minutes: 60 }] })
    const reopened = await create(user, { due_date: '2026-04-02T10:00:00Z', reminders: [{ before_minutes: 30 }] })
    const parent = await create(user, { title: 'parent' })
    const subtask = (
      await user.call('POST', '/api/tasks', { body: { title: 'sub', parent_id: parent.id, reminders: [{ at: '2026-04-02T09:00:00Z' }] } })
    ).body
    const deleted = await create(user, { reminders: [{ at: '2026-04-02T09:00:00Z' }] })
    expect(await firings(user, subtask.id)).toEqual({ 0: '2026-04-02T09:00:00.000Z' })
    await user.call('PATCH', `/api/tasks/${done.id}/complete`)
    await user.call('PATCH', `/api/tasks/${reopened.id}/complete`, { body: { completed: true } })
    await user.call('PATCH', `/api/tasks/${reopened.id}/complete`, { body: { completed: false } })
    // Completing the parent completes its subtask.
    await user.call('PATCH', `/api/tasks/${parent.id}/complete`)
    expect((await user.call('DELETE', `/api/tasks/${deleted.id}`)).status).toBe(204)
    expect(await firings(user, deleted.id)).toEqual({})
    await scheduler.runOnce(new Date('2026-04-02T09:30:00Z'))
    expect((await noticesOf(user)).map((notice) => notice.task_id)).toEqual([reopened.id])
    // The completed ones were claimed all the same: reopening now does not bring them back.
    expect(await firings(user, done.id)).toEqual({})
    expect(await firings(user, subtask.id)).toEqual({})
  })
})

describe('the scheduler', () => {
  test('two schedulers claiming at once fire each reminder exactly once, numbered without a gap', async () => {
    clock = new Date('2026-05-01T08:00:00Z')
    const user = await userIn()
    const tasks = []
    for (let i = 0; i < 10; i++)
      tasks.push(
        await create(user, {
          title: `task ${i}`,
          due_date: '2026-05-01T09:00:00Z',
          reminders: [0, 1, 2, 3, 4].map((m) => ({ before_minutes: m })),
        }),
      )
    // Another instance's (same database, streams of its own).
    const other = reminderScheduler({ db: database.db, notifier: localLive().notifier, logger, batch: 7 })
    const mine = reminderScheduler({ db: database.db, notifier: live.notifier, logger, batch: 7 })
    const at = new Date('2026-05-01T09:00:00Z')
    await Promise.all([mine.runOnce(at), other.runOnce(at), mine.runOnce(at), other.runOnce(at)])
    const notices = await readNotices(database.db, user.id, 0, 100)
    expect(notices.map((notice) => notice.number)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const fired = notices.map((notice) => `${notice.data.task_id} ${notice.data.remind_at}`)
    expect(new Set(fired).size).toBe(50)
    for (const task of tasks) expect(await firings(user, task.id)).toEqual({})
  })

  test('a claim that fails before commit (an instance dying mid-delivery) fires nothing; the next claim fires it', async () => {
    clock = new Date('2026-05-02T08:00:00Z')
    const user = await userIn()
    const task = await create(user, { reminders: [{ at: '2026-05-02T09:00:00Z' }] })
    const dying = reminderScheduler({
      db: database.db,
      notifier: live.notifier,
      logger,
      onFired: [
        async (_tx, fired) => {
          if (fired.some((firing) => firing.userId === user.id)) throw new Error('the instance died')
        },
      ],
    })
    await expect(dying.runOnce(new Date('2026-05-02T09:00:00Z'))).rejects.toThrow('the instance died')
    expect(await noticesOf(user)).toEqual([])
    expect(await firings(user, task.id)).toEqual({ 0: '2026-05-02T09:00:00.000Z' })
    await scheduler.runOnce(new Date('2026-05-02T09:00:01Z'))
    expect((await noticesOf(user)).map((notice) => notice.task_id)).toEqual([task.id])
  })

  test('the reminder webhook is queued in the claim transaction, for the webhooks that take reminders', async () => {
    clock = new Date('2026-05-05T08:00:00Z')
    const user = await userIn()
    const hook = async (events: string[]) =>
      (await user.call('POST', '/api/webhooks', { body: { url: 'http://127.0.0.1:9/hook', events } })).body.id as number
    const [reminders, changes] = [await hook(['reminder']), await hook(['change'])]
    const task = await create(user, { title: 'hooked', due_date: '2026-05-05T10:00:00Z', reminders: [{ before_minutes: 60 }] })
    const firing = reminderScheduler({ db: database.db, notifier: live.notifier, logger, onFired: [reminderWebhooks] })
    await firing.runOnce(new Date('2026-05-05T09:00:00Z'))
    const queued = await database.db
      .select({ webhookId: webhookDeliveries.webhookId, event: webhookDeliveries.event, payload: webhookDeliveries.payload })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.userId, user.id), eq(webhookDeliveries.event, 'reminder')))
    expect(queued.map((row) => ({ ...row, payload: JSON.parse(row.payload) }))).toEqual([
      {
        webhookId: reminders,
        event: 'reminder',
        payload: {
          type: 'reminder',
          timestamp: '2026-05-05T09:00:00.000Z',
          data: { task_id: task.id, title: 'hooked', due_date: '2026-05-05T10:00:00.000Z', remind_at: '2026-05-05T09:00:00.000Z' },
        },
      },
    ])
    expect(queued.map((row) => row.webhookId)).not.toContain(changes)
  })

  test('onFired hooks run in the claim transaction with what fired', async () => {
    clock = new Date('2026-05-03T08:00:00Z')
    const user = await userIn()
    const task = await create(user, { title: 'hooked', due_date: '2026-05-03', reminders: [{ before_minutes: 0 }] })
    const seen: unknown[] = []
    const hooked = reminderScheduler({
      db: database.db,
      notifier: live.notifier,
      logger,
      onFired: [
        async (tx, fired) => {
          expect(typeof tx.execute).toBe('function')
          seen.push(...fired.filter((firing) => firing.userId === user.id))
        },
      ],
    })
    await hooked.runOnce(new Date('2026-05-03T09:00:00Z'))
    expect(seen).toEqual([
      { userId: user.id, event: { task_id: task.id, title: 'hooked', due_date: '2026-05-03', remind_at: '2026-05-03T09:00:00.000Z' } },
    ])
  })

  test('the real loop ticks on its own and stops', async () => {
    clock = new Date('2026-05-04T08:00:00Z')
    const user = await userIn()
    const task = await create(user, { reminders: [{ at: '2026-05-04T08:00:01Z' }] })
    const looping = reminderScheduler({ db: database.db, notifier: live.notifier, logger, now: () => new Date('2026-05-04T08:00:01Z') })
    const stop = looping.start(10)
    const deadline = Date.now() + 5000
    while ((await noticesOf(user)).length === 0 && Date.now() < deadline) await Bun.sleep(10)
    await stop()
    expect((await noticesOf(user)).map((notice) => notice.task_id)).toEqual([task.id])
  })
})

describe('event: reminder on live streams', () => {
  test('a stream open when it fires gets it, without an id; a stream opened later does not; another user never sees it', async () => {
    clock = new Date('2026-06-01T07:00:00Z')
    const [alice, bob] = [await userIn(), await userIn()]
    const aliceStream = await streamOf(alice)
    const bobStream = await streamOf(bob)
    const task = await create(alice, { title: 'Water the plants', due_date: '2026-06-01', reminders: [{ before_minutes: 60 }] })
    await scheduler.runOnce(new Date('2026-06-01T08:00:00Z'))
    const event = await nextReminder(aliceStream)
    expect(event).toEqual({
      id: undefined,
      data: { task_id: task.id, title: 'Water the plants', due_date: '2026-06-01', remind_at: '2026-06-01T08:00:00.000Z' },
    })
    expect(Object.keys(event.data)).toEqual(['task_id', 'title', 'due_date', 'remind_at'])
    // Bob's next reminder is his own: Alice's was never his.
    const later = await streamOf(alice)
    const bobs = await create(bob, { title: "Bob's", reminders: [{ at: '2026-06-01T08:30:00Z' }] })
    const alices = await create(alice, { title: "Alice's second", reminders: [{ at: '2026-06-01T08:30:00Z' }] })
    await scheduler.runOnce(new Date('2026-06-01T08:30:00Z'))
    expect((await nextReminder(bobStream)).data.task_id).toBe(bobs.id)
    // Reminders are live: the later stream gets only what fired after it opened.
    expect((await nextReminder(later)).data.task_id).toBe(alices.id)
    expect((await nextReminder(aliceStream)).data.task_id).toBe(alices.id)
  })

  test('a lost wake-up: the catch-up sweep sends the notice', async () => {
    clock = new Date('2026-06-02T08:00:00Z')
    const user = await userIn()
    const reader = await streamOf(user)
    const task = await create(user, { reminders: [{ at: '2026-06-02T09:00:00Z' }] })
    // A notifier that tells nobody, as a NOTIFY that failed.
    const silent = reminderScheduler({ db: database.db, notifier: { reminded: () => {} }, logger })
    await silent.runOnce(new Date('2026-06-02T09:00:00Z'))
    expect(await catchUp(database.db, live.hub)).toBeGreaterThanOrEqual(1)
    expect((await nextReminder(reader)).data.task_id).toBe(task.id)
  })

  test('1,000 reminders due in the same second reach the stream, each once, in order', async () => {
    clock = new Date('2026-06-03T08:00:00Z')
    const user = await userIn()
    const reader = await streamOf(user)
    const tasks: number[] = []
    for (let i = 0; i < 200; i++) {
      const reminders = Array.from({ length: 5 }, () => ({ at: `2026-06-03T09:00:00.${String(i).padStart(3, '0')}Z` }))
      tasks.push((await create(user, { title: `t${i}`, reminders })).id)
    }
    expect(await scheduler.runOnce(new Date('2026-06-03T09:00:01Z'))).toBeGreaterThanOrEqual(1000)
    const perTask = new Map<number, number>()
    let last = ''
    for (let i = 0; i < 1000; i++) {
      const { data } = await nextReminder(reader)
      perTask.set(data.task_id, (perTask.get(data.task_id) ?? 0) + 1)
      // Claimed oldest first, sent in claim order.
      expect(data.remind_at >= last).toBe(true)
      last = data.remind_at
    }
    expect([...perTask.keys()].sort((x, y) => x - y)).toEqual(tasks)
    expect(new Set(perTask.values())).toEqual(new Set([5]))
  })
})

describe('what reminders leave behind', () => {
  test('deleting the account deletes its pending reminders and its notices', async () => {
    clock = new Date('2026-08-01T08:00:00Z')
    const user = await signedUpUser()
    const call = ((method, path, options = {}) => user.call(method, path, { on: timed, ...options })) as User['call']
    const fired = (await call('POST', '/api/tasks', { body: { title: 'fired', reminders: [{ at: '2026-08-01T09:00:00Z' }] } })).body
    const pending = (await call('POST', '/api/tasks', { body: { title: 'pending', reminders: [{ at: '2026-08-02T09:00:00Z' }] } })).body
    await scheduler.runOnce(new Date('2026-08-01T09:00:00Z'))
    expect((await noticesOf(user)).map((notice) => notice.task_id)).toEqual([fired.id])
    expect((await call('DELETE', '/api/auth/me')).status).toBe(204)
    expect(await noticesOf(user)).toEqual([])
    expect(await firings(user, pending.id)).toEqual({})
  })

  // Last in the file: the sweep forgets every notice of the database older than an hour.
  test('housekeeping forgets notices after an hour', async () => {
    clock = new Date('2026-08-03T08:00:00Z')
    const user = await userIn()
    await create(user, { reminders: [{ at: '2026-08-03T09:00:00Z' }] })
    await scheduler.runOnce(new Date('2026-08-03T09:00:00Z'))
    expect(await noticesOf(user)).toHaveLength(1)
    // Notices are stamped by the database's clock, the sweep counts from the one it is given.
    await sweep(database.db, new Date(Date.now() + NOTICES_KEPT_MS - 60_000))
    expect(await noticesOf(user)).toHaveLength(1)
    expect((await sweep(database.db, new Date(Date.now() + NOTICES_KEPT_MS + 60_000))).reminderNotices).toBeGreaterThanOrEqual(1)
    expect(await noticesOf(user)).toEqual([])
  })
})
