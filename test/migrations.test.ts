// A database made by the release before task ids became bigint (drizzle/0000
// and 0001 only, applied with drizzle's own bookkeeping) upgrades in place
// when the app opens it: every account and task kept as it was, the id
// sequence continued, ids past int4 served, and each user's tasks placed in a
// default list in the order they were created. A database made by the
// release before whole-day due dates (drizzle/0000 to 0008) keeps every due
// date the moment it was; one made before recurrence_counted (drizzle/0000
// to 0012) keeps its COUNT series going. On PGlite always, on
// PostgreSQL when TEST_DATABASE_URL is set (not through a pooler: it creates
// and drops a database).
import { afterAll, describe, expect, test } from 'bun:test'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { generateNKeysBetween } from 'fractional-indexing'
import postgres from 'postgres'
import { createApp } from '../src/app'
import { hashPassword } from '../src/auth/passwords'
import { type DatabaseHandle, openDatabase } from '../src/db/client'
import { migrationsFolder } from '../src/db/migrate'
import { call, logger, randomAddress, TEST_DATABASE_URL, testConfig, tokenFor } from './support'

const THROUGH_POOLER = process.env.TEST_THROUGH_POOLER === '1'
const PREVIOUS_RELEASE = ['0000_init', '0001_users']
// The release before whole-day due dates and settings (drizzle/0009).
const BEFORE_TIME = [
  '0000_init',
  '0001_users',
  '0002_task_ids_bigint',
  '0003_rate_limits',
  '0004_task_ids_max_safe',
  '0005_lists',
  '0006_change_feed',
  '0007_idempotency_keys',
  '0008_event_tickets',
]
const PASSWORD = 'an old account password'

const scratch = await mkdtemp(join(tmpdir(), 'todo-migrations-'))
afterAll(() => rm(scratch, { recursive: true, force: true }))

/** drizzle/ as an earlier release shipped it: its migrations and a journal naming only them. */
async function previousMigrations(release = PREVIOUS_RELEASE): Promise<string> {
  const folder = join(scratch, `previous-${release.length}`)
  await mkdir(join(folder, 'meta'), { recursive: true })
  const journal = JSON.parse(await readFile(join(migrationsFolder, 'meta/_journal.json'), 'utf8'))
  journal.entries = journal.entries.filter((entry: { tag: string }) => release.includes(entry.tag))
  expect(journal.entries.map((entry: { tag: string }) => entry.tag)).toEqual(release)
  await writeFile(join(folder, 'meta/_journal.json'), JSON.stringify(journal))
  for (const tag of release) await copyFile(join(migrationsFolder, `${tag}.sql`), join(folder, `${tag}.sql`))
  return folder
}

/** Runs SQL on a drizzle database of either driver and answers the rows. */
type Run = (text: string) => Promise<Record<string, unknown>[]>
const runOn =
  (db: { execute(query: ReturnType<typeof sql.raw>): Promise<unknown> }): Run =>
  async (text) => {
    const result = (await db.execute(sql.raw(text))) as Record<string, unknown>[] | { rows: Record<string, unknown>[] }
    return Array.isArray(result) ? result : result.rows
  }

// Two users with tasks, one task deleted at the top of the sequence so that
// the next id must come from the sequence, not from max(id) + 1.
async function seedPreviousRelease(run: Run) {
  const hash = (await hashPassword(PASSWORD)).replaceAll("'", "''")
  await run(`insert into users (id, email, name, password_hash, created_at) values
    ('old-user-a', 'old-a@example.com', 'Old A', '${hash}', '2026-01-02T03:04:05.678Z'),
    ('old-user-b', 'old-b@example.com', null, '${hash}', '2026-02-03T04:05:06.789Z')`)
  await run(`insert into tasks (user_id, title, description, completed, priority, due_date, tags, version, created_at, updated_at) values
    ('old-user-a', 'first', 'with a description', false, 'high', '2026-03-04T05:06:07.890Z', '{home,"two words"}', 1, '2026-01-05T00:00:00.001Z', '2026-01-05T00:00:00.001Z'),
    ('old-user-b', 'second', null, true, 'low', null, '{}', 4, '2026-01-06T00:00:00.002Z', '2026-01-07T00:00:00.003Z'),
    ('old-user-a', 'third', null, false, 'medium', null, '{}', 2, '2026-01-08T00:00:00.004Z', '2026-01-09T00:00:00.005Z'),
    ('old-user-a', 'deleted', null, false, 'medium', null, '{}', 1, '2026-01-10T00:00:00.006Z', '2026-01-10T00:00:00.006Z')`)
  await run(`delete from tasks where title = 'deleted'`)
  // Enough tasks for positions of one, two and three digits (a0..az, b00..bzz, c000..).
  await run(`insert into tasks (user_id, title, created_at, updated_at)
    select 'old-user-c', 'bulk ' || n, timestamptz '2026-01-01' + n * interval '1 second', timestamptz '2026-01-01' + n * interval '1 second'
    from generate_series(1, ${MANY}) as n`)
  await run(`insert into task_quotas (user_id, task_count) values ('old-user-a', 2), ('old-user-b', 1), ('old-user-c', ${MANY})`)
  // A user whose tasks no quota row counts, two of them made in the same millisecond.
  await run(`insert into tasks (user_id, title, created_at, updated_at) values
    ('old-user-d', 'same time 1', '2026-01-11T00:00:00.000Z', '2026-01-11T00:00:00.000Z'),
    ('old-user-d', 'same time 2', '2026-01-11T00:00:00.000Z', '2026-01-11T00:00:00.000Z')`)
}

const MANY = 4000

/** Every row of the user data, as text that keeps each value exactly (old-user-d's quota row is new: checked apart). */
async function contents(run: Run) {
  const [row] = await run(`select
    (select json_agg(u order by u.id) from users u)::text as users,
    (select json_agg(t order by t.id) from (select user_id, id, title, description, completed, priority, due_date, tags, version, created_at, updated_at from tasks) t)::text as tasks,
    (select json_agg(q order by q.user_id) from (select user_id, task_count from task_quotas where user_id <> 'old-user-d') q)::text as quotas`)
  return row
}

async function expectUpgraded(database: DatabaseHandle, before: Contents) {
  const run = runOn(database.db)
  expect(await contents(run)).toEqual(before)
  expect(
    await run(`select format_type(a.atttypid, a.atttypmod) as column_type, s.seqtypid::regtype::text as sequence_type, s.seqmax::text as sequence_max
      from pg_attribute a, pg_sequence s
      where a.attrelid = 'tasks'::regclass and a.attname = 'id' and s.seqrelid = pg_get_serial_sequence('tasks', 'id')::regclass`),
  ).toEqual([{ column_type: 'bigint', sequence_type: 'bigint', sequence_max: '9007199254740991' }])

  // One default list per user with tasks, holding them all at the top level, in created_at order.
  expect(await run(`select user_id, name, is_default, position from lists order by user_id`)).toEqual(
    ['old-user-a', 'old-user-b', 'old-user-c', 'old-user-d'].map((user_id) => ({
      user_id,
      name: 'Inbox',
      is_default: true,
      position: 'a0',
    })),
  )
  // Every user with a list has a quota row; one that had none counts its tasks.
  expect(await run(`select user_id, task_count::int, list_count::int from task_quotas order by user_id`)).toEqual([
    { user_id: 'old-user-a', task_count: 2, list_count: 1 },
    { user_id: 'old-user-b', task_count: 1, list_count: 1 },
    { user_id: 'old-user-c', task_count: MANY, list_count: 1 },
    { user_id: 'old-user-d', task_count: 2, list_count: 1 },
  ])
  const placed = await run(`select t.user_id, t.parent_id, t.position from tasks t
    join lists l on l.user_id = t.user_id and l.id = t.list_id and l.is_default
    order by t.user_id, t.created_at, t.id`)
  const positionsOf = (user: string) => placed.filter((row) => row.user_id === user).map((row) => row.position)
  // The keys fractional-indexing itself gives so many items in a row.
  expect(positionsOf('old-user-a')).toEqual(generateNKeysBetween(null, null, 2))
  expect(positionsOf('old-user-b')).toEqual(generateNKeysBetween(null, null, 1))
  expect(positionsOf('old-user-c')).toEqual(generateNKeysBetween(null, null, MANY))
  // Ties on created_at go by id.
  expect(await run(`select title, position from tasks where user_id = 'old-user-d' order by position`)).toEqual([
    { title: 'same time 1', position: 'a0' },
    { title: 'same time 2', position: 'a1' },
  ])
  expect(placed.every((row) => row.parent_id === null)).toBe(true)

  const app = await createApp({ database, config: testConfig(), logger })
  const signedIn = await call('POST', '/api/auth/signin', {
    on: app,
    body: { email: 'old-a@example.com', password: PASSWORD },
    headers: { 'x-forwarded-for': randomAddress() },
  })
  expect([signedIn.status, signedIn.body.user]).toEqual([
    200,
    { id: 'old-user-a', email: 'old-a@example.com', name: 'Old A', created_at: '2026-01-02T03:04:05.678Z' },
  ])
  const token = signedIn.body.token as string
  const list = await call('GET', '/api/tasks?sort=created_at&order=asc', { on: app, token })
  expect([
    list.status,
    list.body.map((task: { id: number; title: string; created_at: string }) => [task.id, task.title, task.created_at]),
  ]).toEqual([
    200,
    [
      [1, 'first', '2026-01-05T00:00:00.001Z'],
      [3, 'third', '2026-01-08T00:00:00.004Z'],
    ],
  ])

  // The sequence goes on where it stood (4 was taken and deleted, then MANY + 2 more were made).
  const next = await call('POST', '/api/tasks', { on: app, token, body: { title: 'after the upgrade' } })
  expect([next.status, next.body.id]).toEqual([201, 4 + MANY + 2 + 1])
  // ...at the end of the user's default list.
  expect(await run(`select position from tasks where id = ${next.body.id}`)).toEqual([{ position: 'a2' }])

  // Past int4: the sequence and the column take it, and the API answers it as a number.
  await run('alter table tasks alter column id restart with 3000000000')
  const big = await call('POST', '/api/tasks', { on: app, token: await tokenFor('old-user-b'), body: { title: 'past int4' } })
  expect([big.status, big.body.id]).toEqual([201, 3_000_000_000])
  const listed = await call('GET', '/api/tasks?sort=created_at&order=desc&limit=1', { on: app, token: await tokenFor('old-user-b') })
  expect([listed.status, listed.body[0]?.id, listed.body[0]?.title]).toEqual([200, 3_000_000_000, 'past int4'])
  expect(await run(`select user_id, title from tasks where id = 3000000000`)).toEqual([{ user_id: 'old-user-b', title: 'past int4' }])
  const after = await call('POST', '/api/tasks', { on: app, token, body: { title: 'and the next' } })
  expect([after.status, after.body.id]).toEqual([201, 3_000_000_001])
}

type Contents = Record<string, unknown> | undefined

/**
 * A database of `release` (on PGlite, or on a PostgreSQL database of its own),
 * seeded by `seed` with SQL of that release, then opened by the app, which
 * migrates it: `check` gets it with `read`'s view of the data from before.
 */
async function upgrade(
  on: 'pglite' | 'postgres',
  release: string[],
  seed: (run: Run) => Promise<void>,
  read: (run: Run) => Promise<Contents>,
  check: (database: DatabaseHandle, before: Contents) => Promise<void>,
) {
  if (on === 'pglite') {
    const [{ PGlite }, { drizzle }, { migrate }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('drizzle-orm/pglite'),
      import('drizzle-orm/pglite/migrator'),
    ])
    const dataDir = join(scratch, `pglite-${release.length}`)
    const client = await PGlite.create(dataDir)
    const old = drizzle(client)
    await migrate(old, { migrationsFolder: await previousMigrations(release) })
    await seed(runOn(old))
    const before = await read(runOn(old))
    await client.close()
    const database = await openDatabase({ databaseUrl: undefined, dataDir, poolMax: 1, prepare: true, databaseTimeoutMs: 5000 })
    try {
      await check(database, before)
    } finally {
      await database.close()
    }
    return
  }
  const [{ drizzle }, { migrate }] = await Promise.all([import('drizzle-orm/postgres-js'), import('drizzle-orm/postgres-js/migrator')])
  const name = `todo_upgrade_${crypto.randomUUID().replaceAll('-', '')}`
  const server = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} })
  const url = new URL(TEST_DATABASE_URL!)
  url.pathname = `/${name}`
  await server.unsafe(`create database ${name}`)
  try {
    const client = postgres(url.toString(), { max: 1, onnotice: () => {} })
    const old = drizzle(client)
    await migrate(old, { migrationsFolder: await previousMigrations(release) })
    await seed(runOn(old))
    const before = await read(runOn(old))
    await client.end()
    const database = await openDatabase({
      databaseUrl: url.toString(),
      dataDir: 'memory://',
      poolMax: 2,
      prepare: true,
      databaseTimeoutMs: 5000,
    })
    try {
      await check(database, before)
    } finally {
      await database.close()
    }
  } finally {
    await server.unsafe(`drop database if exists ${name} with (force)`)
    await server.end()
  }
}

const onPostgres = Boolean(TEST_DATABASE_URL) && !THROUGH_POOLER

describe('upgrading a database of the previous release', () => {
  test('PGlite: every account and task kept, the id sequence continued, ids past int4 served', { timeout: 60_000 }, () =>
    upgrade('pglite', PREVIOUS_RELEASE, seedPreviousRelease, contents, expectUpgraded),
  )

  test.if(onPostgres)('PostgreSQL: every account and task kept, the id sequence continued, ids past int4 served', () =>
    upgrade('postgres', PREVIOUS_RELEASE, seedPreviousRelease, contents, expectUpgraded),
  )
})

// ---------------------------------------------------------------------------
// The release before whole-day due dates: every due date stays the moment it was.

async function seedBeforeTime(run: Run) {
  await run(
    `insert into lists (user_id, name, is_default, position) values ('time-a', 'Inbox', true, 'a0'), ('time-b', 'Inbox', true, 'a0')`,
  )
  await run(`insert into tasks (user_id, list_id, position, title, due_date, created_at, updated_at)
    select user_id, (select id from lists where lists.user_id = seeded.user_id), position, title, due_date::timestamptz, created_at::timestamptz, created_at::timestamptz
    from (values
      ('time-a', 'a0', 'a moment', '2026-03-29T07:30:00.123Z', '2026-01-01T00:00:00.001Z'),
      ('time-a', 'a1', 'midnight in UTC', '2026-03-29T00:00:00.000Z', '2026-01-01T00:00:00.002Z'),
      ('time-a', 'a2', 'no date', null, '2026-01-01T00:00:00.003Z'),
      ('time-b', 'a0', 'the last', '9999-12-31T23:59:59.999Z', '2026-01-01T00:00:00.004Z'),
      ('time-b', 'a1', 'the first', '0001-01-01T00:00:00.000Z', '2026-01-01T00:00:00.005Z')
    ) as seeded (user_id, position, title, due_date, created_at)`)
  await run(`insert into task_quotas (user_id, task_count, list_count, change_position) values ('time-a', 3, 1, 4), ('time-b', 2, 1, 3)`)
}

async function dueDates(run: Run): Promise<Contents> {
  const [row] = await run(
    `select json_agg(t order by t.id)::text as tasks from (select user_id, id, title, due_date, version, updated_at from tasks) t`,
  )
  return row
}

async function expectDueDatesKept(database: DatabaseHandle, before: Contents) {
  const run = runOn(database.db)
  expect(await dueDates(run)).toEqual(before)
  expect(await run(`select count(*)::int as whole_days from tasks where due_day is not null`)).toEqual([{ whole_days: 0 }])
  expect(await run(`select count(*)::int as settings from user_settings`)).toEqual([{ settings: 0 }])
  const app = await createApp({ database, config: testConfig(), logger, now: () => new Date('2026-03-29T12:00:00Z') })
  const token = await tokenFor('time-a')
  const listed = await call('GET', '/api/tasks?sort=due_date&order=asc', { on: app, token })
  expect(listed.body.map((task: { title: string; due_date: string | null }) => [task.title, task.due_date])).toEqual([
    ['midnight in UTC', '2026-03-29T00:00:00.000Z'],
    ['a moment', '2026-03-29T07:30:00.123Z'],
    ['no date', null],
  ])
  // Midnight in UTC is a moment, not a whole day: in New York it is still the 28th.
  const today = await call('GET', '/api/tasks?due=today&tz=America/New_York', { on: app, token })
  expect(today.body.map((task: { title: string }) => task.title)).toEqual(['a moment'])
  const theirs = await call('GET', '/api/tasks?sort=due_date&order=asc', { on: app, token: await tokenFor('time-b') })
  expect(theirs.body.map((task: { due_date: string }) => task.due_date)).toEqual(['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z'])
  // An old task takes a whole day, and the settings exist for everyone.
  const first = listed.body[0] as { id: number }
  const patched = await call('PATCH', `/api/tasks/${first.id}`, { on: app, token, body: { due_date: '2026-03-30' } })
  expect([patched.status, patched.body.due_date]).toEqual([200, '2026-03-30'])
  expect((await call('GET', '/api/settings', { on: app, token })).body).toEqual({ time_zone: 'UTC' })
}

describe('upgrading a database of the release before whole-day due dates', () => {
  test('PGlite: every due date stays the moment it was', { timeout: 60_000 }, () =>
    upgrade('pglite', BEFORE_TIME, seedBeforeTime, dueDates, expectDueDatesKept),
  )

  test.if(onPostgres)('PostgreSQL: every due date stays the moment it was', () =>
    upgrade('postgres', BEFORE_TIME, seedBeforeTime, dueDates, expectDueDatesKept),
  )
})

// ---------------------------------------------------------------------------
// The release before recurrence_counted (drizzle/0013): a COUNT series kept
// its first start, and its occurrences are counted from there: the new
// column's 0 says just that, so an old series goes on as it would have.

const BEFORE_COUNTED = [...BEFORE_TIME, '0009_settings_and_whole_day_due_dates', '0010_webhooks', '0011_recurrence', '0012_reminders']

async function seedBeforeCounted(run: Run) {
  await run(`insert into lists (user_id, name, is_default, position) values ('count-a', 'Inbox', true, 'a0')`)
  // FREQ=DAILY;COUNT=5 from 1 May 09:00: completed on the 1st (to the 2nd),
  // then late on the 3rd (the 3rd passed, to the 4th): two completions, the
  // 4th is its 4th occurrence.
  await run(`insert into tasks (user_id, list_id, position, title, due_date, recurrence_rule, recurrence_from, recurrence_start, recurrence_done, created_at, updated_at)
    select 'count-a', id, 'a0', 'five days', '2026-05-04T09:00:00Z', 'FREQ=DAILY;COUNT=5', 'due', '2026-05-01T09:00:00', 2, '2026-05-01T00:00:00Z', '2026-05-03T10:00:00Z'
    from lists where user_id = 'count-a'`)
  await run(`insert into task_quotas (user_id, task_count, list_count, change_position) values ('count-a', 1, 1, 2)`)
}

async function series(run: Run): Promise<Contents> {
  const [row] = await run(
    `select json_agg(t order by t.id)::text as tasks from (select id, due_date, recurrence_rule, recurrence_start, recurrence_done from tasks) t`,
  )
  return row
}

async function expectSeriesGoesOn(database: DatabaseHandle, before: Contents) {
  const run = runOn(database.db)
  expect(await series(run)).toEqual(before)
  let now = new Date('2026-05-04T10:00:00Z')
  const app = await createApp({ database, config: testConfig(), logger, now: () => now })
  const token = await tokenFor('count-a')
  const [task] = (await call('GET', '/api/tasks', { on: app, token })).body as { id: number }[]
  const occurrences = await call('GET', `/api/tasks/${task!.id}/occurrences`, { on: app, token })
  expect(occurrences.body).toEqual({ occurrences: ['2026-05-05T09:00:00.000Z'] })
  const fifth = await call('PATCH', `/api/tasks/${task!.id}/complete`, { on: app, token })
  expect([fifth.body.due_date, fifth.body.completed]).toEqual(['2026-05-05T09:00:00.000Z', false])
  now = new Date('2026-05-05T10:00:00Z')
  const ended = await call('PATCH', `/api/tasks/${task!.id}/complete`, { on: app, token })
  expect([ended.body.due_date, ended.body.completed]).toEqual(['2026-05-05T09:00:00.000Z', true])
}

describe('upgrading a database of the release before recurrence_counted', () => {
  test('PGlite: a COUNT series goes on where it was', { timeout: 60_000 }, () =>
    upgrade('pglite', BEFORE_COUNTED, seedBeforeCounted, series, expectSeriesGoesOn),
  )

  test.if(onPostgres)('PostgreSQL: a COUNT series goes on where it was', () =>
    upgrade('postgres', BEFORE_COUNTED, seedBeforeCounted, series, expectSeriesGoesOn),
  )
})
