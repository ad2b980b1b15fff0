// Recurring tasks (CONTRACT.md, Time): the rule as taken and refused, the
// next occurrence a completion moves a task to (in the user's zone, across
// the 2026 daylight saving changes of Berlin and New York, at month ends, on
// 29 February), COUNT and UNTIL, from: completion, subtasks, the completions
// and occurrences routes, If-Match, sync and ownership. The clock is the
// app's, pinned by each test, so "now" never depends on when the suite runs.
import { describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { createApp } from '../src/app'
import { answerOf, errorOf, mcpClient } from './mcp-client'
import { sync } from './replica'
import { callAs, database, errorBody, logger, testConfig, tokenFor, userId, validationError } from './support'

let clock = new Date('2026-01-01T00:00:00Z')
const timed = await createApp({ database, config: testConfig(), logger, now: () => clock })

type Call = ReturnType<typeof callAs>
type User = { id: string; token: string; call: Call }

async function userIn(zone?: string): Promise<User> {
  const id = userId('recur')
  const token = await tokenFor(id)
  const plain = callAs(token)
  const call: Call = (method, path, options = {}) => plain(method, path, { ...options, on: timed })
  if (zone) expect((await call('PATCH', '/api/settings', { body: { time_zone: zone } })).status).toBe(200)
  return { id, token, call }
}

async function create(user: User, body: Record<string, unknown>) {
  const reply = await user.call('POST', '/api/tasks', { body: { title: 'repeat', ...body } })
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status: 201 })
  return reply.body
}

/** Completes the task at `now` (the toggle), expecting 200; answers the task as it then is. */
async function completeAt(user: User, id: number, now: string) {
  clock = new Date(now)
  const reply = await user.call('PATCH', `/api/tasks/${id}/complete`)
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status: 200 })
  return reply.body
}

async function occurrences(user: User, id: number, limit?: number): Promise<string[]> {
  const reply = await user.call('GET', `/api/tasks/${id}/occurrences${limit ? `?limit=${limit}` : ''}`)
  expect(reply.status).toBe(200)
  return reply.body.occurrences
}

describe('recurrence on a task', () => {
  test('is answered normalized on create, GET, list and PATCH; null for a task that does not recur', async () => {
    const user = await userIn()
    const task = await create(user, { due_date: '2026-05-04', recurrence: { rule: 'rrule:freq=weekly;byday=we,mo;interval=1' } })
    expect(task.recurrence).toEqual({ rule: 'FREQ=WEEKLY;BYDAY=MO,WE', from: 'due' })
    expect((await user.call('GET', `/api/tasks/${task.id}`)).body.recurrence).toEqual(task.recurrence)
    const plain = await create(user, { title: 'once' })
    expect(plain.recurrence).toBeNull()
    expect((await user.call('GET', '/api/tasks')).body.map((t: { recurrence: unknown }) => t.recurrence)).toEqual([null, task.recurrence])
    const changed = await user.call('PATCH', `/api/tasks/${task.id}`, {
      body: { recurrence: { rule: 'FREQ=MONTHLY;BYMONTHDAY=-1;INTERVAL=2', from: 'completion' } },
    })
    expect(changed.body.recurrence).toEqual({ rule: 'FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1', from: 'completion' })
    // The same rule spelt otherwise is the same rule: no change, the same ETag.
    const again = await user.call('PUT', `/api/tasks/${task.id}`, {
      body: { recurrence: { rule: 'FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1', from: 'completion' } },
    })
    expect(again.headers.get('etag')).toBe(changed.headers.get('etag'))
    const stopped = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { recurrence: null } })
    expect(stopped.body).toMatchObject({ recurrence: null, due_date: '2026-05-04' })
  })

  const REFUSED: [string, string][] = [
    ['FREQ=DAILY;BYHOUR=9', 'BYHOUR is not supported'],
    ['FREQ=DAILY;BYMINUTE=30', 'BYMINUTE is not supported'],
    ['FREQ=DAILY;BYSECOND=1', 'BYSECOND is not supported'],
    ['FREQ=YEARLY;BYYEARDAY=100', 'BYYEARDAY is not supported'],
    ['FREQ=YEARLY;BYWEEKNO=20', 'BYWEEKNO is not supported'],
    ['FREQ=WEEKLY;WKST=SU', 'WKST is not supported'],
    ['FREQ=YEARLY;RSCALE=HEBREW', 'RSCALE is not supported'],
    ['FREQ=HOURLY', 'FREQ=HOURLY is not supported'],
    ['FREQ=MINUTELY', 'FREQ=MINUTELY is not supported'],
    ['FREQ=SECONDLY', 'FREQ=SECONDLY is not supported'],
    ['FREQ=DAILY;COUNT=3;UNTIL=20261231', 'COUNT and UNTIL cannot both be given'],
    ['FREQ=DAILY;BYDAY=1MO', 'BYDAY ordinals (1MO) are only for FREQ=MONTHLY or FREQ=YEARLY'],
    ['FREQ=WEEKLY;BYDAY=-1FR', 'BYDAY ordinals (-1FR) are only for FREQ=MONTHLY or FREQ=YEARLY'],
    ['FREQ=MONTHLY;BYDAY=6MO', 'a BYDAY ordinal must be 1 to 5 or -5 to -1, not 6'],
    ['FREQ=MONTHLY;BYDAY=XX', 'BYDAY must be weekdays'],
    // rrule-temporal gives 2027-01-04 for the 53rd Monday of 2026 (a year of 52): not taken.
    [
      'FREQ=YEARLY;BYDAY=53MO',
      'a BYDAY ordinal of FREQ=YEARLY must be 1 to 52 or -52 to -1 (a 53rd weekday of the year is not supported), not 53MO',
    ],
    ['FREQ=YEARLY;BYDAY=-53TH', 'a BYDAY ordinal of FREQ=YEARLY must be 1 to 52 or -52 to -1'],
    ['FREQ=YEARLY;BYDAY=54MO', 'a BYDAY ordinal must be 1 to 52 or -52 to -1, not 54'],
    ['FREQ=YEARLY;BYMONTH=1;BYDAY=9MO', 'a BYDAY ordinal with BYMONTH (counted within the month) must be 1 to 5 or -5 to -1, not 9'],
    // Rules that give no date at all.
    ['FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29,30;BYDAY=+1MO', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29,30;BYDAY=1MO gives no date'],
    ['FREQ=MONTHLY;BYDAY=5MO;BYSETPOS=-366', 'FREQ=MONTHLY;BYDAY=5MO;BYSETPOS=-366 gives no date'],
    ['INTERVAL=2', 'FREQ is required'],
    ['FREQ=DAILY;INTERVAL=0', 'INTERVAL must be 1 to 1000, not 0'],
    ['FREQ=DAILY;INTERVAL=two', 'INTERVAL must be a whole number, not TWO'],
    ['FREQ=DAILY;COUNT=0', 'COUNT must be 1 to 1000, not 0'],
    ['FREQ=MONTHLY;BYMONTHDAY=0', 'BYMONTHDAY must be 1 to 31 or -31 to -1, not 0'],
    ['FREQ=MONTHLY;BYMONTHDAY=32', 'BYMONTHDAY must be 1 to 31 or -31 to -1, not 32'],
    ['FREQ=YEARLY;BYMONTH=13', 'BYMONTH must be 1 to 12, not 13'],
    ['FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', 'BYMONTHDAY=30 falls on no day of BYMONTH=2'],
    ['FREQ=WEEKLY;BYMONTHDAY=1', 'BYMONTHDAY cannot be used with FREQ=WEEKLY'],
    ['FREQ=MONTHLY;BYSETPOS=1', 'BYSETPOS needs BYDAY, BYMONTHDAY or BYMONTH'],
    ['FREQ=DAILY;UNTIL=20260230', 'UNTIL is not a real date: 20260230'],
    ['FREQ=DAILY;UNTIL=20261231T170000', 'UNTIL must be a date (20261231) or a date-time in UTC'],
    ['FREQ=DAILY;FREQ=WEEKLY', 'FREQ is given twice'],
    ['FREQ=DAILY;X-NAME=1', 'X-NAME is not an RRULE part'],
    ['FREQ=DAILY;', 'has an empty part'],
    ['FREQ', 'FREQ is not NAME=VALUE'],
    ['   ', 'must not be empty'],
  ]
  test.each(REFUSED)('refuses %p: 422 recurrence.rule "%s", on create, PATCH and PUT', async (rule, message) => {
    const user = await userIn()
    const refused = (reply: { status: number; body: any }) => {
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError('recurrence.rule'))
      expect(reply.body.errors).toEqual([{ field: 'recurrence.rule', message: expect.stringContaining(message) }])
      expect(reply.body.detail).toContain(`recurrence.rule: ${message}`)
    }
    refused(await user.call('POST', '/api/tasks', { body: { title: 'x', due_date: '2026-05-01', recurrence: { rule } } }))
    const task = await create(user, { due_date: '2026-05-01' })
    refused(await user.call('PATCH', `/api/tasks/${task.id}`, { body: { recurrence: { rule } } }))
    refused(await user.call('PUT', `/api/tasks/${task.id}`, { body: { recurrence: { rule, from: 'completion' } } }))
    expect((await user.call('GET', `/api/tasks/${task.id}`)).body.recurrence).toBeNull()
  })

  test('refuses a wrong shape: from other than due or completion, unknown fields, no rule, NUL, over 500 characters', async () => {
    const user = await userIn()
    const shapes = [
      { rule: 'FREQ=DAILY', from: 'later' },
      { rule: 'FREQ=DAILY', every: 2 },
      { from: 'due' },
      { rule: 'FREQ=DAILY\u0000' },
      { rule: `FREQ=DAILY;${'INTERVAL=1;'.repeat(50)}` },
      'FREQ=DAILY',
      7,
    ]
    for (const recurrence of shapes) {
      const reply = await user.call('POST', '/api/tasks', { body: { title: 'x', due_date: '2026-05-01', recurrence } })
      expect([recurrence, reply.status, reply.body]).toEqual([recurrence, 422, validationError('recurrence', true)])
    }
  })

  test('a recurring task needs a due date; clearing it is refused unless the recurrence is cleared with it', async () => {
    const user = await userIn()
    const noDue = await user.call('POST', '/api/tasks', { body: { title: 'x', recurrence: { rule: 'FREQ=DAILY' } } })
    expect(noDue.status).toBe(422)
    expect(noDue.body.errors).toEqual([{ field: 'recurrence', message: expect.stringContaining('a recurring task needs a due_date') }])
    const plain = await create(user, {})
    const later = await user.call('PATCH', `/api/tasks/${plain.id}`, { body: { recurrence: { rule: 'FREQ=DAILY' } } })
    expect(later.body).toEqual(validationError('recurrence'))
    expect(later.body.detail).toBe('recurrence: a recurring task needs a due_date: send one with it')
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY' } })
    const cleared = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { due_date: null } })
    expect(cleared.status).toBe(422)
    expect(cleared.body.errors).toEqual([{ field: 'due_date', message: expect.stringContaining('send recurrence: null with it') }])
    const unchanged = await user.call('GET', `/api/tasks/${task.id}`)
    expect(unchanged.body).toMatchObject({ due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY' } })
    const both = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { due_date: null, recurrence: null } })
    expect(both.body).toMatchObject({ due_date: null, recurrence: null })
    // Setting both at once on a task without a due date works too.
    const set = await user.call('PUT', `/api/tasks/${plain.id}`, { body: { due_date: '2026-05-02', recurrence: { rule: 'FREQ=DAILY' } } })
    expect(set.body).toMatchObject({ due_date: '2026-05-02', recurrence: { rule: 'FREQ=DAILY', from: 'due' } })
  })
})

// A daily task at 09:00 local across each 2026 change: its instant in UTC moves by the hour the clocks move.
const DST = [
  { zone: 'Europe/Berlin', due: '2026-03-28T08:00:00.000Z', next: '2026-03-29T07:00:00.000Z', after: '2026-03-30T07:00:00.000Z' },
  { zone: 'Europe/Berlin', due: '2026-10-24T07:00:00.000Z', next: '2026-10-25T08:00:00.000Z', after: '2026-10-26T08:00:00.000Z' },
  { zone: 'America/New_York', due: '2026-03-07T14:00:00.000Z', next: '2026-03-08T13:00:00.000Z', after: '2026-03-09T13:00:00.000Z' },
  { zone: 'America/New_York', due: '2026-10-31T13:00:00.000Z', next: '2026-11-01T14:00:00.000Z', after: '2026-11-02T14:00:00.000Z' },
]

describe('completing a recurring task', () => {
  test.each(DST)('a daily 09:00 task in $zone stays at 09:00 across the change after $due', async ({ zone, due, next, after }) => {
    const user = await userIn(zone)
    const task = await create(user, { due_date: due, recurrence: { rule: 'FREQ=DAILY' } })
    expect(await occurrences(user, task.id, 2)).toEqual([next, after])
    const rolled = await completeAt(user, task.id, new Date(new Date(due).getTime() + 30 * 60_000).toISOString())
    expect(rolled).toMatchObject({ id: task.id, completed: false, due_date: next })
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit' })
    expect(local.format(new Date(rolled.due_date))).toBe('09:00')
    const again = await completeAt(user, task.id, next)
    expect(again).toMatchObject({ completed: false, due_date: after })
    expect(local.format(new Date(again.due_date))).toBe('09:00')
  })

  test('RFC 5545: a wall time the day does not have is no occurrence; one it has twice is the first', async () => {
    const user = await userIn('Europe/Berlin')
    // 02:30 in Berlin: 29 March has no 02:30; 25 October has two, the first at 00:30 UTC.
    const spring = await create(user, { due_date: '2026-03-28T01:30:00Z', recurrence: { rule: 'FREQ=DAILY' } })
    expect(await occurrences(user, spring.id, 2)).toEqual(['2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z'])
    const autumn = await create(user, { due_date: '2026-10-24T00:30:00Z', recurrence: { rule: 'FREQ=DAILY' } })
    expect(await occurrences(user, autumn.id, 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'])
  })

  test('an overdue daily task completed days late moves to the first occurrence after now', async () => {
    const user = await userIn('Europe/Berlin')
    const timedTask = await create(user, { due_date: '2026-03-01T08:00:00Z', recurrence: { rule: 'FREQ=DAILY' } })
    const wholeDay = await create(user, { due_date: '2026-03-01', recurrence: { rule: 'FREQ=DAILY' } })
    // 10 March, 13:00 in Berlin: today's 09:00 has passed, so tomorrow's; a whole day moves past today.
    expect(await completeAt(user, timedTask.id, '2026-03-10T12:00:00Z')).toMatchObject({ due_date: '2026-03-11T08:00:00.000Z' })
    expect(await completeAt(user, wholeDay.id, '2026-03-10T12:00:00Z')).toMatchObject({ due_date: '2026-03-11' })
    // Early on 10 March (07:00 in Berlin): 09:00 today is still ahead.
    const early = await create(user, { due_date: '2026-03-01T08:00:00Z', recurrence: { rule: 'FREQ=DAILY' } })
    expect(await completeAt(user, early.id, '2026-03-10T06:00:00Z')).toMatchObject({ due_date: '2026-03-10T08:00:00.000Z' })
  })

  test("a whole day's today is the user's: 03:00 UTC on 11 March is still 10 March in New York", async () => {
    const berlin = await userIn('Europe/Berlin')
    const newYork = await userIn('America/New_York')
    for (const [user, expected] of [
      [berlin, '2026-03-12'],
      [newYork, '2026-03-11'],
    ] as const) {
      const task = await create(user, { due_date: '2026-03-01', recurrence: { rule: 'FREQ=DAILY' } })
      expect(await completeAt(user, task.id, '2026-03-11T03:00:00Z')).toMatchObject({ due_date: expected, completed: false })
    }
  })

  test('whole days recur by days and stay dates: month ends, the last day of the month, 29 February, ordinals', async () => {
    const user = await userIn('America/New_York')
    const on31 = await create(user, { due_date: '2026-01-31', recurrence: { rule: 'FREQ=MONTHLY;BYMONTHDAY=31' } })
    // RFC 5545: a month without a 31st has no occurrence.
    expect(await occurrences(user, on31.id, 4)).toEqual(['2026-03-31', '2026-05-31', '2026-07-31', '2026-08-31'])
    const last = await create(user, { due_date: '2026-01-31', recurrence: { rule: 'FREQ=MONTHLY;BYMONTHDAY=-1' } })
    expect(await occurrences(user, last.id, 4)).toEqual(['2026-02-28', '2026-03-31', '2026-04-30', '2026-05-31'])
    const leap = await create(user, { due_date: '2024-02-29', recurrence: { rule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29' } })
    expect(await completeAt(user, leap.id, '2024-02-29T15:00:00Z')).toMatchObject({ due_date: '2028-02-29', completed: false })
    const lastFriday = await create(user, { due_date: '2026-01-30', recurrence: { rule: 'FREQ=MONTHLY;BYDAY=-1FR' } })
    expect(await occurrences(user, lastFriday.id, 3)).toEqual(['2026-02-27', '2026-03-27', '2026-04-24'])
    expect(await completeAt(user, lastFriday.id, '2026-01-30T15:00:00Z')).toMatchObject({ due_date: '2026-02-27' })
  })

  test('a timed monthly task on the last Friday keeps its wall time in Berlin across the March change', async () => {
    const user = await userIn('Europe/Berlin')
    // 17:00 in Berlin on Friday 27 February.
    const task = await create(user, { due_date: '2026-02-27T16:00:00Z', recurrence: { rule: 'FREQ=MONTHLY;BYDAY=-1FR' } })
    expect(await occurrences(user, task.id, 2)).toEqual(['2026-03-27T16:00:00.000Z', '2026-04-24T15:00:00.000Z'])
  })

  test('from: completion counts from the completion, at the task’s wall time, timed or whole day', async () => {
    const user = await userIn('Europe/Berlin')
    const recurrence = { rule: 'FREQ=DAILY;INTERVAL=3', from: 'completion' }
    const timedTask = await create(user, { due_date: '2026-03-01T08:00:00Z', recurrence })
    const wholeDay = await create(user, { due_date: '2026-03-01', recurrence })
    // Completed on 5 March at 16:00 in Berlin: three days later, 8 March, at 09:00.
    expect(await completeAt(user, timedTask.id, '2026-03-05T15:00:00Z')).toMatchObject({ due_date: '2026-03-08T08:00:00.000Z' })
    expect(await completeAt(user, wholeDay.id, '2026-03-05T15:00:00Z')).toMatchObject({ due_date: '2026-03-08' })
    // Completed early (7 March): three days after that, not after the due date.
    expect(await completeAt(user, wholeDay.id, '2026-03-07T10:00:00Z')).toMatchObject({ due_date: '2026-03-10' })
    // Occurrences: as if each were completed on its due date.
    expect(await occurrences(user, wholeDay.id, 3)).toEqual(['2026-03-13', '2026-03-16', '2026-03-19'])
  })

  test('COUNT ends the series: the last completion completes the task for good, due date kept, recorded', async () => {
    const user = await userIn('America/New_York')
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY;COUNT=2' } })
    expect(await occurrences(user, task.id)).toEqual(['2026-05-02'])
    expect(await completeAt(user, task.id, '2026-05-01T15:00:00Z')).toMatchObject({ due_date: '2026-05-02', completed: false })
    expect(await occurrences(user, task.id)).toEqual([])
    expect(await completeAt(user, task.id, '2026-05-02T15:00:00Z')).toMatchObject({ due_date: '2026-05-02', completed: true })
    const completions = await user.call('GET', `/api/tasks/${task.id}/completions`)
    expect(completions.body).toEqual([
      { completed_at: '2026-05-02T15:00:00.000Z', due_date: '2026-05-02' },
      { completed_at: '2026-05-01T15:00:00.000Z', due_date: '2026-05-01' },
    ])
    // Reopening does not roll back: the task is open at its last due date.
    expect(await completeAt(user, task.id, '2026-05-03T15:00:00Z')).toMatchObject({ due_date: '2026-05-02', completed: false })
  })

  test('COUNT counts from the series start: occurrences skipped by completing late are used up', async () => {
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { due_date: '2026-05-01T08:00:00Z', recurrence: { rule: 'FREQ=DAILY;COUNT=3' } })
    expect(await completeAt(user, task.id, '2026-05-02T10:00:00Z')).toMatchObject({
      due_date: '2026-05-03T08:00:00.000Z',
      completed: false,
    })
    expect(await completeAt(user, task.id, '2026-05-03T10:00:00Z')).toMatchObject({ due_date: '2026-05-03T08:00:00.000Z', completed: true })
  })

  test('COUNT with from: completion counts completions', async () => {
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=WEEKLY;COUNT=2', from: 'completion' } })
    expect(await completeAt(user, task.id, '2026-05-04T10:00:00Z')).toMatchObject({ due_date: '2026-05-11', completed: false })
    expect(await completeAt(user, task.id, '2026-05-20T10:00:00Z')).toMatchObject({ due_date: '2026-05-11', completed: true })
  })

  test('UNTIL ends the series, timed (a date: through that day in the zone) and as a UTC date-time', async () => {
    const user = await userIn('America/New_York')
    // 09:00 in New York; UNTIL the 3rd, a date: the 3rd's 09:00 is the last.
    const task = await create(user, { due_date: '2026-06-01T13:00:00Z', recurrence: { rule: 'FREQ=DAILY;UNTIL=20260603' } })
    expect(await occurrences(user, task.id)).toEqual(['2026-06-02T13:00:00.000Z', '2026-06-03T13:00:00.000Z'])
    await completeAt(user, task.id, '2026-06-01T14:00:00Z')
    expect(await completeAt(user, task.id, '2026-06-02T14:00:00Z')).toMatchObject({
      due_date: '2026-06-03T13:00:00.000Z',
      completed: false,
    })
    expect(await completeAt(user, task.id, '2026-06-03T14:00:00Z')).toMatchObject({ due_date: '2026-06-03T13:00:00.000Z', completed: true })
    const utc = await create(user, { due_date: '2026-06-01T13:00:00Z', recurrence: { rule: 'FREQ=DAILY;UNTIL=20260602T120000Z' } })
    expect(await occurrences(user, utc.id)).toEqual([])
  })

  test('changing the due date or the rule starts the series again from the new due date', async () => {
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY;COUNT=2' } })
    await completeAt(user, task.id, '2026-05-01T10:00:00Z')
    const moved = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { due_date: '2026-06-01' } })
    expect(moved.body.due_date).toBe('2026-06-01')
    expect(await occurrences(user, task.id)).toEqual(['2026-06-02'])
    expect(await completeAt(user, task.id, '2026-06-01T10:00:00Z')).toMatchObject({ due_date: '2026-06-02', completed: false })
    await user.call('PATCH', `/api/tasks/${task.id}`, { body: { recurrence: { rule: 'FREQ=WEEKLY;COUNT=3' } } })
    expect(await occurrences(user, task.id)).toEqual(['2026-06-09', '2026-06-16'])
  })

  test("a change of the user's zone: future occurrences keep their wall time in the new zone", async () => {
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { due_date: '2026-06-01T07:00:00Z', recurrence: { rule: 'FREQ=DAILY' } })
    // 09:00 in Berlin, on 2 June.
    expect(await completeAt(user, task.id, '2026-06-01T08:00:00Z')).toMatchObject({ due_date: '2026-06-02T07:00:00.000Z' })
    await user.call('PATCH', '/api/settings', { body: { time_zone: 'America/New_York' } })
    // 09:00 in New York, on 3 June (the 2nd's 09:00 there has passed by now).
    expect(await completeAt(user, task.id, '2026-06-02T14:00:00Z')).toMatchObject({ due_date: '2026-06-03T13:00:00.000Z' }) // Set before the change and never completed: the same. 09:00 in New York on
    // 1 June comes after the current due date (09:00 in Berlin that day).
    await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Berlin' } })
    const fresh = await create(user, { due_date: '2026-06-01T07:00:00Z', recurrence: { rule: 'FREQ=DAILY' } })
    await user.call('PATCH', '/api/settings', { body: { time_zone: 'America/New_York' } })
    expect(await occurrences(user, fresh.id, 2)).toEqual(['2026-06-01T13:00:00.000Z', '2026-06-02T13:00:00.000Z'])
  })

  test('completing reopens the subtasks; a recurring subtask rolls forward alone', async () => {
    const user = await userIn('Europe/Berlin')
    const parent = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=WEEKLY' } })
    const done = await create(user, { title: 'done', parent_id: parent.id })
    const open = await create(user, { title: 'open', parent_id: parent.id })
    const deep = await create(user, { title: 'deep', parent_id: done.id })
    await user.call('PATCH', `/api/tasks/${done.id}/complete`, { body: { completed: true } })
    expect((await user.call('GET', `/api/tasks/${deep.id}`)).body.completed).toBe(true)
    const rolled = await completeAt(user, parent.id, '2026-05-01T10:00:00Z')
    expect(rolled).toMatchObject({ completed: false, due_date: '2026-05-08' })
    for (const id of [done.id, open.id, deep.id]) expect((await user.call('GET', `/api/tasks/${id}`)).body.completed).toBe(false)
    const sub = await create(user, { title: 'sub', parent_id: parent.id, due_date: '2026-05-02', recurrence: { rule: 'FREQ=DAILY' } })
    expect(await completeAt(user, sub.id, '2026-05-02T10:00:00Z')).toMatchObject({ completed: false, due_date: '2026-05-03' })
    expect((await user.call('GET', `/api/tasks/${parent.id}`)).body).toMatchObject({ completed: false, due_date: '2026-05-08' })
  })

  test('PUT and PATCH completed: true roll forward too; completed: true on an ended series changes nothing', async () => {
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY;COUNT=3' } })
    clock = new Date('2026-05-01T10:00:00Z')
    const put = await user.call('PUT', `/api/tasks/${task.id}`, { body: { completed: true } })
    expect(put.body).toMatchObject({ completed: false, due_date: '2026-05-02' })
    clock = new Date('2026-05-02T10:00:00Z')
    const patch = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { completed: true, title: 'renamed' } })
    expect(patch.body).toMatchObject({ completed: false, due_date: '2026-05-03', title: 'renamed' })
    clock = new Date('2026-05-03T10:00:00Z')
    const set = await user.call('PATCH', `/api/tasks/${task.id}/complete`, { body: { completed: true } })
    expect(set.body).toMatchObject({ completed: true, due_date: '2026-05-03' })
    const again = await user.call('PATCH', `/api/tasks/${task.id}/complete`, { body: { completed: true } })
    expect(again.headers.get('etag')).toBe(set.headers.get('etag'))
    expect((await user.call('GET', `/api/tasks/${task.id}/completions`)).body).toHaveLength(3)
  })

  test('If-Match is honoured: a stale ETag is 412 and nothing rolls; the current one rolls and answers a new ETag', async () => {
    const user = await userIn()
    const created = await user.call('POST', '/api/tasks', {
      body: { title: 'x', due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY' } },
    })
    const first = created.headers.get('etag')!
    await user.call('PATCH', `/api/tasks/${created.body.id}`, { body: { title: 'renamed' } })
    clock = new Date('2026-05-01T10:00:00Z')
    const stale = await user.call('PATCH', `/api/tasks/${created.body.id}/complete`, { headers: { 'if-match': first } })
    expect(stale.status).toBe(412)
    expect(stale.body).toEqual(errorBody('precondition_failed'))
    const current = (await user.call('GET', `/api/tasks/${created.body.id}`)).headers.get('etag')!
    const rolled = await user.call('PATCH', `/api/tasks/${created.body.id}/complete`, { headers: { 'if-match': current } })
    expect(rolled.status).toBe(200)
    expect(rolled.body).toMatchObject({ due_date: '2026-05-02', completed: false })
    expect(rolled.headers.get('etag')).not.toBe(current)
    expect((await user.call('GET', `/api/tasks/${created.body.id}/completions`)).body).toHaveLength(1)
    const staleSet = await user.call('PATCH', `/api/tasks/${created.body.id}/complete`, {
      headers: { 'if-match': current },
      body: { completed: true },
    })
    expect(staleSet.status).toBe(412)
  })

  test('a retried completion with the same Idempotency-Key rolls forward once', async () => {
    const user = await userIn()
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY' } })
    clock = new Date('2026-05-01T10:00:00Z')
    const headers = { 'idempotency-key': crypto.randomUUID() }
    const first = await user.call('PATCH', `/api/tasks/${task.id}/complete`, { headers })
    const retried = await user.call('PATCH', `/api/tasks/${task.id}/complete`, { headers })
    expect(first.body).toMatchObject({ due_date: '2026-05-02', completed: false })
    expect(retried.body).toEqual(first.body)
    expect((await user.call('GET', `/api/tasks/${task.id}`)).body.due_date).toBe('2026-05-02')
    expect((await user.call('GET', `/api/tasks/${task.id}/completions`)).body).toHaveLength(1)
  })

  test('sync sends the rolled-forward task (and its list) after the cursor', async () => {
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY' } })
    const before = await sync(user)
    const rolled = await completeAt(user, task.id, '2026-05-01T10:00:00Z')
    const after = await sync(user, before.cursor)
    const change = after.changes.find((c) => c.type === 'task' && c.id === task.id)
    expect(change?.data).toEqual(rolled)
    expect(after.changes.some((c) => c.type === 'list' && c.id === task.list_id)).toBe(true)
  })

  test('MCP: add_task and update_task take recurrence, complete_task rolls forward', async () => {
    const user = await userIn('Europe/Berlin')
    const client = await mcpClient(user.token, timed)
    try {
      const added = answerOf(
        await client.callTool({
          name: 'add_task',
          arguments: { title: 'water plants', due_date: '2026-05-01', recurrence: { rule: 'FREQ=WEEKLY;BYDAY=FR' } },
        }),
      )
      expect(added.recurrence).toEqual({ rule: 'FREQ=WEEKLY;BYDAY=FR', from: 'due' })
      const refused = errorOf(
        await client.callTool({ name: 'update_task', arguments: { task_id: added.id, recurrence: { rule: 'FREQ=DAILY;BYHOUR=8' } } }),
      )
      expect(refused.errors).toEqual([{ field: 'recurrence.rule', message: expect.stringContaining('BYHOUR is not supported') }])
      const updated = answerOf(
        await client.callTool({
          name: 'update_task',
          arguments: { task_id: added.id, recurrence: { rule: 'FREQ=DAILY', from: 'completion' } },
        }),
      )
      expect(updated.recurrence).toEqual({ rule: 'FREQ=DAILY', from: 'completion' })
      clock = new Date('2026-05-03T10:00:00Z')
      const completed = answerOf(await client.callTool({ name: 'complete_task', arguments: { task_id: added.id } }))
      expect(completed).toMatchObject({ completed: false, due_date: '2026-05-04' })
    } finally {
      await client.close()
    }
  })
})

describe('the cost of a series and the edges of the calendar', () => {
  // The last day of every year, its 366 days tried each year: once a walk
  // from the series start per date, 100 dates from year 1 held the event
  // loop for 12.7 s, and a COUNT series walked from its first occurrence on
  // every completion.
  const EVERY_LAST_DAY =
    'FREQ=YEARLY;COUNT=1000;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYSETPOS=-1'

  test('occurrences are read in one walk: 100 dates of a costly rule from year 1 answer at once', async () => {
    const user = await userIn('UTC')
    const task = await create(user, { due_date: '0001-01-01T09:00:00Z', recurrence: { rule: EVERY_LAST_DAY } })
    const started = performance.now()
    const dates = await occurrences(user, task.id, 100)
    // Tens of milliseconds now; seconds when each date walked the series again.
    expect(performance.now() - started).toBeLessThan(2000)
    expect(dates).toHaveLength(100)
    expect(dates.slice(0, 2)).toEqual(['0001-12-31T09:00:00.000Z', '0002-12-31T09:00:00.000Z'])
    expect(dates.at(-1)).toBe('0100-12-31T09:00:00.000Z')
  })

  // The series as a task row keeps it: where it starts, and the occurrences of its COUNT before that.
  async function storedSeries(id: number) {
    const rows = (await database.db.execute(
      sql`select to_char(recurrence_start, 'YYYY-MM-DD HH24:MI:SS') as start, recurrence_counted as counted from tasks where id = ${id}`,
    )) as unknown as { start: string; counted: number }[] | { rows: { start: string; counted: number }[] }
    return ('rows' in rows ? rows.rows : rows)[0]
  }

  test('a rule that matches once in decades: the list stops where the walk runs out, from due and from completion', async () => {
    const user = await userIn('Europe/Berlin')
    // 29 February on a Monday: 2044, 2072, ... 28 years or more apart.
    const rule = 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO'
    const due = await create(user, { due_date: '2026-01-01T08:00:00Z', recurrence: { rule } })
    // 20,000 days of the rule's walk from the series start.
    expect(await occurrences(user, due.id, 100)).toEqual(['2044-02-29T08:00:00.000Z', '2072-02-29T08:00:00.000Z'])
    const completion = await create(user, { due_date: '2026-01-01T08:00:00Z', recurrence: { rule, from: 'completion' } })
    const started = performance.now()
    const dates = await occurrences(user, completion.id, 100)
    // Each date walks from the completion before it: about four centuries of days for the whole list.
    expect(performance.now() - started).toBeLessThan(2000)
    expect(dates.slice(0, 2)).toEqual(['2044-02-29T08:00:00.000Z', '2072-02-29T08:00:00.000Z'])
    expect(dates.length).toBe(15)
  })

  test('a COUNT series starts again at each occurrence, the occurrences passed counted: skipped or not, COUNT ends it', async () => {
    const user = await userIn('Europe/Berlin')
    // Due on a Tuesday, which the rule does not give: COUNT counts Wednesday, Monday, Wednesday, Monday.
    const task = await create(user, { due_date: '2026-05-05', recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4' } })
    expect(await occurrences(user, task.id)).toEqual(['2026-05-06', '2026-05-11', '2026-05-13', '2026-05-18'])
    expect(await completeAt(user, task.id, '2026-05-05T10:00:00Z')).toMatchObject({ due_date: '2026-05-06', completed: false })
    // Stored so that the next completion walks from Wednesday the 6th, not from the first due date.
    expect(await storedSeries(task.id)).toEqual({ start: '2026-05-06 00:00:00', counted: 0 })
    expect(await occurrences(user, task.id)).toEqual(['2026-05-11', '2026-05-13', '2026-05-18'])
    // Completed on the 12th: Monday the 11th is passed, and used up.
    expect(await completeAt(user, task.id, '2026-05-12T10:00:00Z')).toMatchObject({ due_date: '2026-05-13', completed: false })
    expect(await storedSeries(task.id)).toEqual({ start: '2026-05-13 00:00:00', counted: 2 })
    expect(await occurrences(user, task.id)).toEqual(['2026-05-18'])
    expect(await completeAt(user, task.id, '2026-05-13T10:00:00Z')).toMatchObject({ due_date: '2026-05-18', completed: false })
    expect(await occurrences(user, task.id)).toEqual([])
    expect(await completeAt(user, task.id, '2026-05-18T10:00:00Z')).toMatchObject({ due_date: '2026-05-18', completed: true })
  })

  test('a costly COUNT series due centuries back: its walk is bounded, past the budget the series has ended', async () => {
    const user = await userIn('UTC')
    clock = new Date('2026-12-07T17:00:00Z')
    const task = await create(user, { due_date: '0001-01-01T09:00:00Z', recurrence: { rule: EVERY_LAST_DAY } })
    const started = performance.now()
    const reply = await user.call('PATCH', `/api/tasks/${task.id}/complete`)
    expect(performance.now() - started).toBeLessThan(2000)
    expect({ status: reply.status, completed: reply.body.completed }).toEqual({ status: 200, completed: true })
  })

  test('a series start outside the years 0001 to 9999 (a due date at the edge, in a zone ahead or behind) is an ended series, never a 500', async () => {
    const ahead = await userIn('Pacific/Kiritimati')
    // 14:00 on 1 January 10000 in Kiritimati.
    for (const due_date of ['9999-12-31T23:00:00Z', '9999-12-31']) {
      const task = await create(ahead, { due_date, recurrence: { rule: 'FREQ=DAILY' } })
      expect(await occurrences(ahead, task.id)).toEqual([])
      const reply = await ahead.call('PATCH', `/api/tasks/${task.id}/complete`)
      expect({ status: reply.status, completed: reply.body.completed, due_date: reply.body.due_date }).toEqual({
        status: 200,
        completed: true,
        due_date: due_date.length === 10 ? due_date : '9999-12-31T23:00:00.000Z',
      })
    }
    // 19:03:58 (local mean time) on 31 December of year 0 (1 BC) in New York: the next dates are days later, not a year.
    const behind = await userIn('America/New_York')
    const task = await create(behind, { due_date: '0001-01-01T00:00:00Z', recurrence: { rule: 'FREQ=DAILY;COUNT=3' } })
    expect(await occurrences(behind, task.id)).toEqual(['0001-01-02T00:00:00.000Z', '0001-01-03T00:00:00.000Z'])
    expect(await completeAt(behind, task.id, '0001-01-01T01:00:00Z')).toMatchObject({ due_date: '0001-01-02T00:00:00.000Z' })
  })
})

describe('GET /api/tasks/{id}/completions and /occurrences', () => {
  test('completions: newest first, paged with X-Total-Count and Link; a task that never recurred has none', async () => {
    const user = await userIn('Europe/Berlin')
    const task = await create(user, { due_date: '2026-05-01T07:00:00Z', recurrence: { rule: 'FREQ=DAILY' } })
    await completeAt(user, task.id, '2026-05-01T08:00:00Z')
    await completeAt(user, task.id, '2026-05-02T08:00:00Z')
    await completeAt(user, task.id, '2026-05-03T08:00:00Z')
    const all = await user.call('GET', `/api/tasks/${task.id}/completions`)
    expect(all.body).toEqual([
      { completed_at: '2026-05-03T08:00:00.000Z', due_date: '2026-05-03T07:00:00.000Z' },
      { completed_at: '2026-05-02T08:00:00.000Z', due_date: '2026-05-02T07:00:00.000Z' },
      { completed_at: '2026-05-01T08:00:00.000Z', due_date: '2026-05-01T07:00:00.000Z' },
    ])
    expect(all.headers.get('x-total-count')).toBe('3')
    const page = await user.call('GET', `/api/${user.id}/tasks/${task.id}/completions?limit=1&offset=1`)
    expect(page.body).toEqual([all.body[1]])
    expect(page.headers.get('link')).toContain('rel="next"')
    const plain = await create(user, {})
    expect((await user.call('GET', `/api/tasks/${plain.id}/completions`)).body).toEqual([])
    expect((await user.call('GET', `/api/tasks/${plain.id}/occurrences`)).body).toEqual({ occurrences: [] })
  })

  test('occurrences: 10 by default, limit 1 to 100, also under /api/{user_id}/tasks', async () => {
    const user = await userIn('America/New_York')
    const task = await create(user, { due_date: '2026-01-01', recurrence: { rule: 'FREQ=DAILY' } })
    const ten = await occurrences(user, task.id)
    expect(ten).toHaveLength(10)
    expect(ten[0]).toBe('2026-01-02')
    expect(ten[9]).toBe('2026-01-11')
    expect(await occurrences(user, task.id, 100)).toHaveLength(100)
    const aliased = await user.call('GET', `/api/${user.id}/tasks/${task.id}/occurrences?limit=2`)
    expect(aliased.body).toEqual({ occurrences: ['2026-01-02', '2026-01-03'] })
    for (const limit of ['0', '101', 'x', '-1']) {
      const reply = await user.call('GET', `/api/tasks/${task.id}/occurrences?limit=${limit}`)
      expect([limit, reply.status, reply.body]).toEqual([limit, 422, validationError('limit')])
    }
  })

  test("another user's task is 403, a missing one 404, a bad id 422, no token 401, on both routes and both prefixes", async () => {
    const owner = await userIn()
    const other = await userIn()
    const task = await create(owner, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY' } })
    await completeAt(owner, task.id, '2026-05-01T10:00:00Z')
    for (const route of ['completions', 'occurrences']) {
      for (const prefix of ['/api/tasks', `/api/${other.id}/tasks`]) {
        const forbidden = await other.call('GET', `${prefix}/${task.id}/${route}`)
        expect([route, prefix, forbidden.status, forbidden.body]).toEqual([route, prefix, 403, errorBody('forbidden')])
        expect(forbidden.text).not.toContain('2026-05')
        const missing = await other.call('GET', `${prefix}/${Number.MAX_SAFE_INTEGER}/${route}`)
        expect([route, missing.status, missing.body]).toEqual([route, 404, errorBody('task_not_found')])
        const bad = await other.call('GET', `${prefix}/abc/${route}`)
        expect([route, bad.status, bad.body]).toEqual([route, 422, validationError('id')])
      }
      // Another user's id in the path is refused before the task is looked at.
      expect((await other.call('GET', `/api/${owner.id}/tasks/${task.id}/${route}`)).status).toBe(403)
      const anonymous = await callAs('')('GET', `/api/tasks/${task.id}/${route}`, { on: timed })
      expect(anonymous.status).toBe(401)
    }
  })

  test('deleting a task deletes its completions with it', async () => {
    const user = await userIn()
    const task = await create(user, { due_date: '2026-05-01', recurrence: { rule: 'FREQ=DAILY' } })
    await completeAt(user, task.id, '2026-05-01T10:00:00Z')
    expect((await user.call('DELETE', `/api/tasks/${task.id}`)).status).toBe(204)
    expect((await user.call('GET', `/api/tasks/${task.id}/completions`)).status).toBe(404)
  })
})
