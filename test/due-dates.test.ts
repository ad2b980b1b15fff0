// Whole-day due dates beside moments (CONTRACT.md, Time): a due_date is an
// ISO 8601 date-time (answered in UTC) or a date (answered as sent, meaning
// that day in the user's time zone), on every route that answers a task.
import { afterAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { sqlStateOf } from '../src/db/errors'
import { tasks } from '../src/db/schema'
import { type EventReader, readEvents } from './sse'
import { app, createTask, database, signedInUser, type User, validationError } from './support'

const stored = async (id: number) => {
  const [row] = await database.db.select({ moment: tasks.dueDate, day: tasks.dueDay }).from(tasks).where(eq(tasks.id, id))
  return row
}
const titles = (body: { title: string }[]) => body.map((task) => task.title)

describe('a whole day or a moment', () => {
  test('a date is kept and answered as sent, on every answer; a date-time as a moment in UTC', async () => {
    const user = await signedInUser()
    const day = await createTask(user, { title: 'day', due_date: '2026-03-29' })
    expect(day.due_date).toBe('2026-03-29')
    expect(await stored(day.id)).toEqual({ moment: null, day: '2026-03-29' })
    expect((await user.call('GET', `/api/tasks/${day.id}`)).body.due_date).toBe('2026-03-29')
    expect((await user.call('GET', '/api/tasks')).body[0].due_date).toBe('2026-03-29')

    const moment = await user.call('PATCH', `/api/tasks/${day.id}`, { body: { due_date: '2026-03-29T09:30:00+02:00' } })
    expect([moment.status, moment.body.due_date]).toEqual([200, '2026-03-29T07:30:00.000Z'])
    expect(await stored(day.id)).toEqual({ moment: expect.any(String), day: null })
    const back = await user.call('PUT', `/api/tasks/${day.id}`, { body: { due_date: '2026-12-31' } })
    expect([back.status, back.body.due_date]).toEqual([200, '2026-12-31'])
    expect(await stored(day.id)).toEqual({ moment: null, day: '2026-12-31' })
    const cleared = await user.call('PATCH', `/api/tasks/${day.id}`, { body: { due_date: null } })
    expect([cleared.status, cleared.body.due_date]).toEqual([200, null])
    expect(await stored(day.id)).toEqual({ moment: null, day: null })
  })

  test('the calendar edges: leap days, the first and the last day storable', async () => {
    const user = await signedInUser()
    for (const due_date of ['2024-02-29', '2000-02-29', '0001-01-01', '9999-12-31', '0999-07-04']) {
      const task = await createTask(user, { title: due_date, due_date })
      expect((await user.call('GET', `/api/tasks/${task.id}`)).body.due_date).toBe(due_date)
    }
  })

  test('the same day again keeps the ETag; a moment on that day, or another day, is a change', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { due_date: '2026-05-01' })
    const etag = (await user.call('GET', `/api/tasks/${task.id}`)).headers.get('etag')
    const same = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { due_date: '2026-05-01' } })
    expect(same.headers.get('etag')).toBe(etag)
    const moment = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { due_date: '2026-05-01T00:00:00Z' } })
    expect(moment.headers.get('etag')).not.toBe(etag)
    const sameMoment = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { due_date: '2026-05-01T02:00:00+02:00' } })
    expect(sameMoment.headers.get('etag')).toBe(moment.headers.get('etag'))
    const day = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { due_date: '2026-05-01' } })
    expect([day.body.due_date, day.headers.get('etag') === moment.headers.get('etag')]).toEqual(['2026-05-01', false])
  })

  test('a date that is no day of the calendar is 422 naming due_date, on create, PUT and PATCH; nothing changes', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'kept', due_date: '2026-01-15' })
    const cases: [string, string][] = [
      ['2026-02-30', 'is not a real date'],
      ['2026-02-29', 'is not a real date'],
      ['1900-02-29', 'is not a real date'],
      ['2026-04-31', 'is not a real date'],
      ['2026-13-01', 'is not a real date'],
      ['2026-00-10', 'is not a real date'],
      ['0000-01-01', 'must fall in the years 0001 to 9999'],
      ['2026-02-30T10:00:00Z', 'is not a real date and time'],
      ['2026-01-01T10:00:00+24:00', 'is not a real date and time'],
    ]
    for (const [due_date, message] of cases)
      for (const [method, path] of [
        ['POST', '/api/tasks'],
        ['PUT', `/api/tasks/${task.id}`],
        ['PATCH', `/api/tasks/${task.id}`],
      ] as const) {
        const reply = await user.call(method, path, { body: { title: 'changed', due_date } })
        expect([due_date, method, reply.status, reply.body]).toEqual([
          due_date,
          method,
          422,
          { detail: `due_date: ${message}`, code: 'validation_error', errors: [{ field: 'due_date', message }] },
        ])
      }
    for (const due_date of ['2026-1-5', '20260105', '2026-01-05 ', '2026-01-05T10:00', 'today']) {
      const reply = await user.call('POST', '/api/tasks', { body: { title: 'x', due_date } })
      expect([due_date, reply.status, reply.body]).toEqual([due_date, 422, validationError('due_date')])
    }
    expect((await user.call('GET', '/api/tasks')).body.map((t: { title: string; due_date: string }) => [t.title, t.due_date])).toEqual([
      ['kept', '2026-01-15'],
    ])
  })

  test('the database holds at most one kind per task', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { due_date: '2026-05-01' })
    const error = await database.db
      .update(tasks)
      .set({ dueDate: '2026-05-01T00:00:00Z' })
      .where(eq(tasks.id, task.id))
      .catch((caught: unknown) => caught)
    expect(sqlStateOf(error)).toBe('23514')
    expect(await stored(task.id)).toEqual({ moment: null, day: '2026-05-01' })
  })
})

describe('sort=due_date with both kinds', () => {
  // A whole day sorts at its first moment in the zone of the days: ties with a moment go by id.
  async function mixed(user: User) {
    for (const [title, due_date] of [
      ['day 29', '2026-03-29'],
      ['moment 28 22:59:59.999Z', '2026-03-28T22:59:59.999Z'],
      ['moment 28 23:00Z', '2026-03-28T23:00:00Z'],
      ['moment 29 03:59Z', '2026-03-29T03:59:00Z'],
      ['moment 29 04:00Z', '2026-03-29T04:00:00Z'],
      ['none', null],
      ['day 28', '2026-03-28'],
    ] as const)
      await createTask(user, { title, due_date })
  }

  test('a whole day sorts at the start of that day in the time zone, nulls last both ways', async () => {
    const user = await signedInUser()
    await mixed(user)
    // UTC: day 29 starts at 29T00:00Z.
    expect(titles((await user.call('GET', '/api/tasks?sort=due_date&order=asc')).body)).toEqual([
      'day 28',
      'moment 28 22:59:59.999Z',
      'moment 28 23:00Z',
      'day 29',
      'moment 29 03:59Z',
      'moment 29 04:00Z',
      'none',
    ])
    // Berlin: day 29 starts at 28T23:00Z (CET), the day the clocks go forward; ties by id.
    expect((await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Berlin' } })).status).toBe(200)
    expect(titles((await user.call('GET', '/api/tasks?sort=due_date&order=asc')).body)).toEqual([
      'day 28',
      'moment 28 22:59:59.999Z',
      'day 29',
      'moment 28 23:00Z',
      'moment 29 03:59Z',
      'moment 29 04:00Z',
      'none',
    ])
    expect(titles((await user.call('GET', '/api/tasks?sort=due_date&order=desc')).body)).toEqual([
      'moment 29 04:00Z',
      'moment 29 03:59Z',
      'moment 28 23:00Z',
      'day 29',
      'moment 28 22:59:59.999Z',
      'day 28',
      'none',
    ])
    // tz for this request: New York's days start at 04:00Z (EDT).
    expect(titles((await user.call('GET', '/api/tasks?sort=due_date&order=asc&tz=America/New_York')).body)).toEqual([
      'day 28',
      'moment 28 22:59:59.999Z',
      'moment 28 23:00Z',
      'moment 29 03:59Z',
      'day 29',
      'moment 29 04:00Z',
      'none',
    ])
  })
})

describe('sync and live events carry whole days as the REST API answers them', () => {
  const open: EventReader[] = []
  afterAll(() => Promise.all(open.map((reader) => reader.close())))

  test('a snapshot, and a stream from its cursor', async () => {
    const user = await signedInUser()
    const day = await createTask(user, { title: 'day', due_date: '2026-07-14' })
    const snapshot = await user.call('GET', '/api/sync')
    const change = snapshot.body.changes.find((c: { type: string; id: number }) => c.type === 'task' && c.id === day.id)
    expect(change.data).toEqual((await user.call('GET', `/api/tasks/${day.id}`)).body)
    expect(change.data.due_date).toBe('2026-07-14')

    const response = await app.handle(
      new Request(`http://localhost/api/events?cursor=${encodeURIComponent(snapshot.body.cursor)}`, {
        headers: { authorization: `Bearer ${user.token}` },
      }),
    )
    const reader = readEvents(response)
    open.push(reader)
    const patched = await user.call('PATCH', `/api/tasks/${day.id}`, { body: { due_date: '2026-07-15' } })
    for (;;) {
      const [next] = await reader.changes(1)
      if (next!.change.type !== 'task') continue
      expect(next!.change).toEqual({ type: 'task', op: 'upsert', id: day.id, data: patched.body })
      expect(next!.change.data.due_date).toBe('2026-07-15')
      break
    }
  })
})
