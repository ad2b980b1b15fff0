// Citus-ready: every statement the service runs on user data (tasks, lists,
// the per-user quota row, settings) names the user, so a table distributed by user_id
// never needs a query sent to every shard. The statements are read as the
// service sends them, while the real app serves every route; the only ones
// allowed without user_id are the id-only lookups that tell 403 from 404.
import { expect, test } from 'bun:test'
import { createApp } from '../src/app'
import { call, logger, openWatchedDatabase, randomAddress, randomEmail, testConfig, tokenFor, userId } from './support'

const statements = new Set<string>()
// From the first request on: the migrations at open are not the service's statements.
let reading = false
const database = await openWatchedDatabase((sql) => {
  if (reading) statements.add(sql)
})
const app = await createApp({ database, config: testConfig(), logger })
reading = true

const USER_TABLE = /\b(?:from|join|update|into)\s+"(?:tasks|lists|task_quotas|deletions|idempotency_keys|user_settings)"/gi
const touchesUserData = (sql: string) => (sql.match(USER_TABLE)?.length ?? 0) > 0
// user_id compared with a value, or with the user_id of a row already scoped.
const USER_CONDITION = /"?user_id"?\s*=\s*(?:\$\d+|"?\w+"?\."?user_id"?)/gi
const INSERT_WITH_USER = /insert into "(?:tasks|lists|task_quotas|deletions|idempotency_keys|user_settings)" \("user_id"/gi
// The named exceptions: "is this id someone's, and is it mine" (src/db/ownership.ts).
const OWNER_LOOKUP = /^select "user_id" = \$1 from "(tasks|lists)" where "\1"\."id" = \$2 limit \$3$/

function unscoped(sql: string): boolean {
  const references = sql.match(USER_TABLE)?.length ?? 0
  const scoped = (sql.match(USER_CONDITION)?.length ?? 0) + (sql.match(INSERT_WITH_USER)?.length ?? 0)
  return references > scoped && !OWNER_LOOKUP.test(sql)
}

async function everyRoute() {
  const address = randomAddress()
  const signup = await call('POST', '/api/auth/signup', {
    on: app,
    body: { email: randomEmail('scoped'), password: 'scoped password 1' },
    headers: { 'x-forwarded-for': address },
  })
  expect(signup.status).toBe(201)
  const token = signup.body.token as string
  const as = (method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) =>
    call(method, path, { on: app, token, ...options })
  expect(
    (
      await call('POST', '/api/auth/signin', {
        on: app,
        body: signup.body.user && { email: signup.body.user.email, password: 'scoped password 1' },
        headers: { 'x-forwarded-for': address },
      })
    ).status,
  ).toBe(200)
  expect((await as('GET', '/api/auth/me')).status).toBe(200)
  const created = await as('POST', '/api/tasks', {
    body: { title: 'scoped', description: 'd', priority: 'high', due_date: '2030-01-01T00:00:00Z', tags: ['t'] },
  })
  expect(created.status).toBe(201)
  const id = created.body.id as number
  for (const query of [
    '',
    '?status=pending',
    '?status=completed&priority=low&tag=t&q=x',
    '?sort=title&order=asc',
    '?sort=due_date',
    '?sort=priority',
    '?sort=updated_at',
    '?offset=5',
    '?due=today',
    '?due=overdue&status=pending',
    '?due=no_date',
    '?due_after=2030-01-01&due_before=2030-01-02T00:00:00Z&tz=Asia/Tokyo',
    '?sort=due_date&order=asc',
  ])
    expect((await as('GET', `/api/tasks${query}`)).status).toBe(200)
  const overdue = await as('GET', '/api/tasks?due=overdue')
  expect((await as('GET', '/api/tasks?due=overdue', { headers: { 'if-none-match': overdue.headers.get('etag')! } })).status).toBe(304)
  expect((await as('GET', '/api/tasks?due=today', { headers: { 'if-none-match': '"0-x"' } })).status).toBe(200)
  expect((await as('GET', '/api/settings')).status).toBe(200)
  expect((await as('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' }, headers: { 'if-match': '"settings.7"' } })).status).toBe(
    412,
  )
  expect((await as('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' } })).status).toBe(200)
  expect((await as('PATCH', `/api/tasks/${id}`, { body: { due_date: '2030-01-01' } })).status).toBe(200)
  expect((await as('GET', `/api/tasks/${id}`)).status).toBe(200)
  expect((await as('PUT', `/api/tasks/${id}`, { body: { title: 'put' } })).status).toBe(200)
  expect(
    (await as('PATCH', `/api/tasks/${id}`, { body: { tags: [] }, headers: { 'if-match': created.headers.get('etag')! } })).status,
  ).toBe(412)
  expect((await as('PATCH', `/api/tasks/${id}/complete`)).status).toBe(200)
  expect((await as('PATCH', `/api/tasks/${id}/complete`, { body: { completed: false } })).status).toBe(200)
  const other = await call('POST', '/api/tasks', { on: app, token: await tokenFor(userId('other')), body: { title: 'theirs' } })
  expect((await as('GET', `/api/tasks/${other.body.id}`)).status).toBe(403)
  expect((await as('DELETE', `/api/tasks/${Number.MAX_SAFE_INTEGER}`)).status).toBe(404)
  const snapshot = await as('GET', '/api/sync?limit=1')
  expect(snapshot.status).toBe(200)
  const lists = await as('GET', '/api/lists')
  expect((await as('GET', '/api/lists', { headers: { 'if-none-match': lists.headers.get('etag')! } })).status).toBe(304)
  const work = await as('POST', '/api/lists', { body: { name: 'Work' }, headers: { 'idempotency-key': 'scoped-1' } })
  expect((await as('POST', '/api/lists', { body: { name: 'Work' }, headers: { 'idempotency-key': 'scoped-1' } })).body).toEqual(work.body)
  const home = await as('POST', '/api/lists', { body: { name: 'Home' } })
  expect((await as('GET', `/api/lists/${work.body.id}`)).status).toBe(200)
  expect((await as('PATCH', `/api/lists/${work.body.id}`, { body: { name: 'Office' } })).status).toBe(200)
  expect((await as('POST', `/api/lists/${home.body.id}/move`, { body: { before_id: work.body.id } })).status).toBe(200)
  const parent = await as('POST', '/api/tasks', { body: { title: 'parent', list_id: work.body.id } })
  const child = await as('POST', '/api/tasks', { body: { title: 'child', parent_id: parent.body.id } })
  expect(child.status).toBe(201)
  expect((await as('GET', `/api/tasks?list_id=${work.body.id}&parent_id=none&sort=position`)).status).toBe(200)
  expect((await as('POST', `/api/tasks/${id}/move`, { body: { parent_id: parent.body.id } })).status).toBe(200)
  expect((await as('POST', `/api/tasks/${id}/move`, { body: { before_id: child.body.id } })).status).toBe(200)
  expect((await as('PATCH', `/api/tasks/${parent.body.id}`, { body: { list_id: home.body.id } })).status).toBe(200)
  expect((await as('PATCH', `/api/tasks/${parent.body.id}/complete`)).status).toBe(200)
  expect((await as('DELETE', `/api/tasks/${child.body.id}`)).status).toBe(204)
  expect((await as('DELETE', `/api/lists/${home.body.id}`)).status).toBe(204)
  expect((await as('GET', `/api/sync?cursor=${encodeURIComponent(snapshot.body.cursor)}`)).status).toBe(200)
  expect((await as('DELETE', `/api/tasks/${id}`)).status).toBe(404)
  expect((await as('DELETE', '/api/auth/me')).status).toBe(204)
}

test('every statement on user data is scoped by user_id, but for the id-only 403/404 lookups', async () => {
  await everyRoute()
  const seen = [...statements]
  expect(seen.filter(touchesUserData).length).toBeGreaterThan(10)
  expect(seen.filter(unscoped)).toEqual([])
  // The checker itself: a statement without the user is caught, the lookup is not.
  expect(unscoped('select "title" from "tasks" where "id" = $1')).toBe(true)
  expect(unscoped('delete from "lists" where "lists"."id" = $1')).toBe(true)
  expect(seen.some((sql) => OWNER_LOOKUP.test(sql))).toBe(true)
})
