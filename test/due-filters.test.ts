// GET /api/tasks?due=&due_after=&due_before=&tz= (CONTRACT.md, Time): days
// are the days of the user's time zone (settings), or of tz; the clock is the
// app's, pinned here, so "today" never depends on when the suite runs. The
// first and last moments of each day are written out in UTC below, not
// computed, around the 2026 daylight saving changes of Berlin and New York.
import { describe, expect, test } from 'bun:test'
import { createApp } from '../src/app'
import { callAs, database, logger, parseLinks, testConfig, tokenFor, userId, validationError } from './support'

let clock = new Date('2026-01-01T00:00:00Z')
const timed = await createApp({ database, config: testConfig(), logger, now: () => clock })

type Call = ReturnType<typeof callAs>
async function userIn(zone?: string): Promise<Call> {
  const plain = callAs(await tokenFor(userId('due')))
  const call: Call = (method, path, options = {}) => plain(method, path, { ...options, on: timed })
  if (zone) expect((await call('PATCH', '/api/settings', { body: { time_zone: zone } })).status).toBe(200)
  return call
}

const ms = (iso: string, delta: number) => new Date(new Date(iso).getTime() + delta).toISOString()

/** A day D of a zone: its first moment, the next day's (D+1), D+2's and D+7's, all in UTC. */
type Day = { zone: string; day: string; start: string; next: string; afterNext: string; week: string; dates: string[] }
const DAYS: Day[] = [
  // The clocks go forward: a 23-hour day.
  {
    zone: 'Europe/Berlin',
    day: '2026-03-29',
    start: '2026-03-28T23:00:00.000Z',
    next: '2026-03-29T22:00:00.000Z',
    afterNext: '2026-03-30T22:00:00.000Z',
    week: '2026-04-04T22:00:00.000Z',
    dates: ['2026-03-28', '2026-03-29', '2026-03-30', '2026-03-31', '2026-04-04', '2026-04-05'],
  },
  // The clocks go back: a 25-hour day.
  {
    zone: 'Europe/Berlin',
    day: '2026-10-25',
    start: '2026-10-24T22:00:00.000Z',
    next: '2026-10-25T23:00:00.000Z',
    afterNext: '2026-10-26T23:00:00.000Z',
    week: '2026-10-31T23:00:00.000Z',
    dates: ['2026-10-24', '2026-10-25', '2026-10-26', '2026-10-27', '2026-10-31', '2026-11-01'],
  },
  {
    zone: 'America/New_York',
    day: '2026-03-08',
    start: '2026-03-08T05:00:00.000Z',
    next: '2026-03-09T04:00:00.000Z',
    afterNext: '2026-03-10T04:00:00.000Z',
    week: '2026-03-15T04:00:00.000Z',
    dates: ['2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10', '2026-03-14', '2026-03-15'],
  },
  {
    zone: 'America/New_York',
    day: '2026-11-01',
    start: '2026-11-01T04:00:00.000Z',
    next: '2026-11-02T05:00:00.000Z',
    afterNext: '2026-11-03T05:00:00.000Z',
    week: '2026-11-08T05:00:00.000Z',
    dates: ['2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03', '2026-11-07', '2026-11-08'],
  },
  // An ordinary day each.
  {
    zone: 'Europe/Berlin',
    day: '2026-06-15',
    start: '2026-06-14T22:00:00.000Z',
    next: '2026-06-15T22:00:00.000Z',
    afterNext: '2026-06-16T22:00:00.000Z',
    week: '2026-06-21T22:00:00.000Z',
    dates: ['2026-06-14', '2026-06-15', '2026-06-16', '2026-06-17', '2026-06-21', '2026-06-22'],
  },
  {
    zone: 'America/New_York',
    day: '2026-01-15',
    start: '2026-01-15T05:00:00.000Z',
    next: '2026-01-16T05:00:00.000Z',
    afterNext: '2026-01-17T05:00:00.000Z',
    week: '2026-01-22T05:00:00.000Z',
    dates: ['2026-01-14', '2026-01-15', '2026-01-16', '2026-01-17', '2026-01-21', '2026-01-22'],
  },
]

/** The tasks around day D: moments at and next to the days' edges, whole days, and one without a date. */
function tasksAround({ start, next, afterNext, week, dates: [before, day, tomorrow, afterTomorrow, sixth, seventh] }: Day) {
  return {
    'day before': before!,
    'last ms before': ms(start, -1),
    'first ms': start,
    'last ms': ms(next, -1),
    day: day!,
    'next first ms': next,
    'next day': tomorrow!,
    'after next first ms': afterNext,
    'day after next': afterTomorrow!,
    'day 6': sixth!,
    'last ms of 7 days': ms(week, -1),
    'first ms after 7 days': week,
    'day 7': seventh!,
    none: null,
  }
}

async function createAround(call: Call, day: Day) {
  for (const [title, due_date] of Object.entries(tasksAround(day)))
    expect((await call('POST', '/api/tasks', { body: { title, due_date } })).status).toBe(201)
}

async function titlesOf(call: Call, query: string): Promise<string[]> {
  const reply = await call('GET', `/api/tasks?${query}`)
  expect([query, reply.status]).toEqual([query, 200])
  expect(reply.headers.get('x-total-count')).toBe(String(reply.body.length))
  return reply.body.map((task: { title: string }) => task.title).sort()
}

const sorted = (titles: string[]) => titles.toSorted()

describe.each(DAYS)('due= in $zone on $day', (day) => {
  const TODAY = sorted(['first ms', 'last ms', 'day'])
  const TOMORROW = sorted(['next first ms', 'next day'])
  const NEXT_7_DAYS = sorted([...TODAY, ...TOMORROW, 'after next first ms', 'day after next', 'day 6', 'last ms of 7 days'])

  test('from just after midnight to just before the next: today, tomorrow, next_7_days, overdue, no_date', async () => {
    const mine = await userIn(day.zone)
    // Another user in UTC, who asks for the zone's days with tz.
    const visitor = await userIn()
    await createAround(mine, day)
    await createAround(visitor, day)
    for (const now of [ms(day.start, 1), ms(day.next, -1)]) {
      clock = new Date(now)
      for (const [call, tz] of [
        [mine, ''],
        [visitor, `&tz=${day.zone}`],
      ] as const) {
        expect(await titlesOf(call, `due=today${tz}`)).toEqual(TODAY)
        expect(await titlesOf(call, `due=tomorrow${tz}`)).toEqual(TOMORROW)
        expect(await titlesOf(call, `due=next_7_days${tz}`)).toEqual(NEXT_7_DAYS)
        // A moment before now; a whole day before today (today's is not overdue until it ends).
        expect(await titlesOf(call, `due=overdue${tz}`)).toEqual(sorted(['day before', 'last ms before', 'first ms']))
        expect(await titlesOf(call, `due=no_date${tz}`)).toEqual(['none'])
      }
    }
  })

  test('the last moment of the day before, and the first of the day after', async () => {
    const mine = await userIn(day.zone)
    await createAround(mine, day)
    clock = new Date(ms(day.start, -1))
    expect(await titlesOf(mine, 'due=today')).toEqual(sorted(['day before', 'last ms before']))
    expect(await titlesOf(mine, 'due=tomorrow')).toEqual(TODAY)
    expect(await titlesOf(mine, 'due=overdue')).toEqual([])
    clock = new Date(day.next)
    expect(await titlesOf(mine, 'due=today')).toEqual(TOMORROW)
    expect(await titlesOf(mine, 'due=overdue')).toEqual(sorted(['day before', 'last ms before', ...TODAY]))
    expect(await titlesOf(mine, 'due=next_7_days')).toEqual(
      sorted([...TOMORROW, 'after next first ms', 'day after next', 'day 6', 'last ms of 7 days', 'first ms after 7 days', 'day 7']),
    )
  })

  test('due_after (inclusive) and due_before (exclusive): a date is the start of that day in the zone', async () => {
    const mine = await userIn(day.zone)
    await createAround(mine, day)
    const all = Object.keys(tasksAround(day)).filter((title) => title !== 'none')
    const [, today, tomorrow] = day.dates
    expect(await titlesOf(mine, `due_after=${today}&due_before=${tomorrow}`)).toEqual(TODAY)
    expect(await titlesOf(mine, `due_before=${today}`)).toEqual(sorted(['day before', 'last ms before']))
    expect(await titlesOf(mine, `due_after=${tomorrow}`)).toEqual(
      sorted(all.filter((title) => !['day before', 'last ms before', ...TODAY].includes(title))),
    )
    // A date-time: the moments from it; the whole days that start at or after it.
    const at = (iso: string) => encodeURIComponent(iso)
    expect(await titlesOf(mine, `due_after=${at(day.start)}&due_before=${at(day.next)}`)).toEqual(TODAY)
    expect(await titlesOf(mine, `due_after=${at(ms(day.start, 1))}&due_before=${at(day.next)}`)).toEqual(['last ms'])
    expect(await titlesOf(mine, `due_after=${at(day.start)}&due_before=${at(ms(day.start, 1))}`)).toEqual(sorted(['first ms', 'day']))
    expect(await titlesOf(mine, `due_before=${at(day.start)}`)).toEqual(sorted(['day before', 'last ms before']))
    // With an offset of its own, and a date mixed with a date-time.
    const offset = `${day.zone === 'Europe/Berlin' ? '2026-01-01T00:00:00+01:00' : '2026-01-01T00:00:00-05:00'}`
    expect(await titlesOf(mine, `due_after=${at(offset)}&due_before=${tomorrow}`)).toEqual(
      sorted(['day before', 'last ms before', ...TODAY]),
    )
    // Combined with due: both hold.
    clock = new Date(ms(day.start, 1))
    expect(await titlesOf(mine, `due=next_7_days&due_after=${tomorrow}`)).toEqual(
      sorted(NEXT_7_DAYS.filter((title) => !TODAY.includes(title))),
    )
    expect(await titlesOf(mine, `due=no_date&due_after=${tomorrow}`)).toEqual([])
  })
})

describe('tz', () => {
  test("overrides the user's zone for the request; the days of UTC otherwise differ", async () => {
    const berlin = DAYS[0]!
    const call = await userIn()
    await createAround(call, berlin)
    clock = new Date(ms(berlin.start, 1))
    // In UTC it is still the 28th: the Berlin day's first moment is today, its last one tomorrow.
    expect(await titlesOf(call, 'due=today')).toEqual(sorted(['day before', 'last ms before', 'first ms']))
    expect(await titlesOf(call, 'due=today&tz=Europe/Berlin')).toEqual(sorted(['first ms', 'last ms', 'day']))
    // Any case, and aliases.
    expect(await titlesOf(call, 'due=today&tz=europe/berlin')).toEqual(sorted(['first ms', 'last ms', 'day']))
    expect(await titlesOf(call, 'due=today&tz=CET')).toEqual(sorted(['first ms', 'last ms', 'day']))
  })
})

describe('with the other filters, paging and ETags', () => {
  test('status, priority and paging: X-Total-Count counts the matches, Link pages them', async () => {
    const day = DAYS[2]!
    const call = await userIn(day.zone)
    await createAround(call, day)
    clock = new Date(ms(day.start, 1))
    const listed = (await call('GET', '/api/tasks?due=next_7_days')).body as { id: number; title: string }[]
    const done = listed.find((task) => task.title === 'day 6')!
    expect((await call('PATCH', `/api/tasks/${done.id}`, { body: { completed: true, priority: 'high' } })).status).toBe(200)
    expect(await titlesOf(call, 'due=next_7_days&status=pending')).toHaveLength(8)
    expect(await titlesOf(call, 'due=next_7_days&status=completed')).toEqual(['day 6'])
    expect(await titlesOf(call, 'due=next_7_days&priority=high')).toEqual(['day 6'])
    // A whole day sorts at its first moment; ties by id.
    const first = await call('GET', '/api/tasks?due=next_7_days&sort=due_date&order=asc&limit=4')
    expect([first.status, first.headers.get('x-total-count')]).toEqual([200, '9'])
    expect(first.body.map((task: { title: string }) => task.title)).toEqual(['first ms', 'day', 'last ms', 'next first ms'])
    const links = parseLinks(first.headers.get('link'))
    expect(links.next?.query).toEqual({ due: 'next_7_days', sort: 'due_date', order: 'asc', limit: '4', offset: '4' })
    const last = await call('GET', '/api/tasks?due=next_7_days&sort=due_date&order=asc&limit=4&offset=8')
    expect([last.headers.get('x-total-count'), last.body.map((task: { title: string }) => task.title)]).toEqual([
      '9',
      ['last ms of 7 days'],
    ])
    const past = await call('GET', '/api/tasks?due=next_7_days&limit=4&offset=20')
    expect([past.status, past.body, past.headers.get('x-total-count')]).toEqual([200, [], '9'])
  })

  test('the ETag of a day view changes with the day, and with the time zone, not with the hour', async () => {
    const day = DAYS[0]!
    const call = await userIn(day.zone)
    await createAround(call, day)
    const revalidate = async (path: string, etag: string) => (await call('GET', path, { headers: { 'if-none-match': etag } })).status
    clock = new Date(ms(day.start, 1))
    const today = (await call('GET', '/api/tasks?due=today')).headers.get('etag')!
    const sortedByDue = (await call('GET', '/api/tasks?sort=due_date')).headers.get('etag')!
    const plain = (await call('GET', '/api/tasks')).headers.get('etag')!
    clock = new Date(ms(day.next, -1))
    expect(await revalidate('/api/tasks?due=today', today)).toBe(304)
    clock = new Date(day.next)
    const tomorrow = await call('GET', '/api/tasks?due=today', { headers: { 'if-none-match': today } })
    expect([tomorrow.status, tomorrow.headers.get('etag') === today]).toEqual([200, false])
    expect(await revalidate('/api/tasks', plain)).toBe(304)
    expect(await revalidate('/api/tasks?sort=due_date', sortedByDue)).toBe(304)
    // Another zone: the same URL, other days.
    expect((await call('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' } })).status).toBe(200)
    expect(await revalidate('/api/tasks?due=today', tomorrow.headers.get('etag')!)).toBe(200)
    expect(await revalidate('/api/tasks?sort=due_date', sortedByDue)).toBe(200)
    expect(await revalidate('/api/tasks', plain)).toBe(304)
  })

  test('the ETag of overdue changes when a due moment passes, and only then', async () => {
    const day = DAYS[3]!
    const call = await userIn(day.zone)
    await createAround(call, day)
    clock = new Date(ms(day.start, 1))
    const first = await call('GET', '/api/tasks?due=overdue')
    const etag = first.headers.get('etag')!
    clock = new Date(ms(day.next, -2))
    const still = await call('GET', '/api/tasks?due=overdue', { headers: { 'if-none-match': etag } })
    expect(still.status).toBe(304)
    // The moment at the day's last millisecond has passed.
    clock = new Date(day.next)
    const passed = await call('GET', '/api/tasks?due=overdue', { headers: { 'if-none-match': etag } })
    expect([passed.status, passed.body.map((task: { title: string }) => task.title).sort()]).toEqual([
      200,
      sorted(['day before', 'last ms before', 'first ms', 'last ms', 'day']),
    ])
    expect(passed.headers.get('etag')).not.toBe(etag)
    // A write changes it as for any list.
    expect((await call('POST', '/api/tasks', { body: { title: 'late', due_date: '2020-01-01' } })).status).toBe(201)
    expect((await call('GET', '/api/tasks?due=overdue', { headers: { 'if-none-match': passed.headers.get('etag')! } })).status).toBe(200)
  })

  test('an empty answer has an ETag that revalidates too', async () => {
    const call = await userIn('Europe/Berlin')
    clock = new Date('2026-05-05T10:00:00Z')
    const empty = await call('GET', '/api/tasks?due=overdue')
    expect([empty.status, empty.body]).toEqual([200, []])
    expect((await call('GET', '/api/tasks?due=overdue', { headers: { 'if-none-match': empty.headers.get('etag')! } })).status).toBe(304)
  })
})

describe('bad values: 422 naming the parameter', () => {
  test.each([
    ['due=yesterday', 'due', 'must be one of overdue, today, tomorrow, next_7_days, no_date'],
    ['due=Today', 'due', 'must be one of overdue, today, tomorrow, next_7_days, no_date'],
    ['due=', 'due', 'must be one of overdue, today, tomorrow, next_7_days, no_date'],
    ['due_after=2026-02-30', 'due_after', 'is not a real date'],
    ['due_before=2026-03-29T24:00:00Z', 'due_before', 'is not a real date and time'],
    ['due_before=0000-06-01', 'due_before', 'must fall in the years 0001 to 9999'],
    ['due_after=9999-12-31T23:00:00-05:00', 'due_after', 'must fall in the years 0001 to 9999 (UTC)'],
    ['due_after=tomorrow', 'due_after', 'must be an ISO 8601 date-time with a time zone (2026-01-31T17:00:00Z) or a date (2026-01-31)'],
    [
      'due_after=2026-03-29T10:00',
      'due_after',
      'must be an ISO 8601 date-time with a time zone (2026-01-31T17:00:00Z) or a date (2026-01-31)',
    ],
    // An unencoded + is a space in a query string.
    [
      'due_before=2026-03-29T10:00:00+02:00',
      'due_before',
      'must be an ISO 8601 date-time with a time zone (2026-01-31T17:00:00Z) or a date (2026-01-31)',
    ],
    ['tz=Mars/Olympus', 'tz', 'must be an IANA time zone name, such as Europe/Berlin or America/New_York'],
    ['tz=%2B02:00', 'tz', 'must be an IANA time zone name, such as Europe/Berlin or America/New_York'],
    ['tz=2020-01-01T00:00Z', 'tz', 'must be an IANA time zone name, such as Europe/Berlin or America/New_York'],
    ['tz=UTC%2B2', 'tz', 'must be an IANA time zone name, such as Europe/Berlin or America/New_York'],
    ['tz=', 'tz', 'must be an IANA time zone name, such as Europe/Berlin or America/New_York'],
  ])('%s', async (query, field, message) => {
    const call = await userIn()
    const reply = await call('GET', `/api/tasks?${query}`)
    expect([reply.status, reply.body]).toEqual([422, { ...validationError(field), errors: [{ field, message }] }])
  })

  test('a valid tz with no day filter is accepted (and changes nothing)', async () => {
    const call = await userIn()
    expect((await call('GET', '/api/tasks?tz=Asia/Kolkata')).status).toBe(200)
  })
})
