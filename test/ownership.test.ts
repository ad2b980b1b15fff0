import { describe, expect, test } from 'bun:test'
import { createTask, errorBody, expectNoLeak, type Reply, signedInUser, type User } from './support'

// Every single-task verb, with a body that would be valid on the owner's own task.
const VERBS: { method: string; suffix: string; body?: Record<string, unknown> }[] = [
  { method: 'GET', suffix: '' },
  { method: 'PUT', suffix: '', body: { title: 'hijacked', description: 'pwned' } },
  { method: 'PATCH', suffix: '', body: { title: 'hijacked', completed: true } },
  { method: 'DELETE', suffix: '' },
  { method: 'PATCH', suffix: '/complete' },
  { method: 'PATCH', suffix: '/complete', body: { completed: true } },
]
const label = (v: (typeof VERBS)[number]) => `${v.method} {id}${v.suffix}${v.body ? ' with a body' : ''}`

/** What the owner sees of a task: body and ETag. */
async function snapshot(user: User, id: number) {
  const reply = await user.call('GET', `/api/tasks/${id}`)
  expect(reply.status).toBe(200)
  return { body: reply.body, etag: reply.headers.get('etag') }
}

async function listOf(user: User) {
  const reply = await user.call('GET', '/api/tasks?limit=1000')
  expect(reply.status).toBe(200)
  return reply.body as { id: number }[]
}

describe("another user's task", () => {
  test('is 403 forbidden on every verb, with or without If-Match, and stays exactly as it was', async () => {
    const owner = await signedInUser('owner')
    const intruder = await signedInUser('intruder')
    const task = await createTask(owner, { title: 'Secret plan', description: 'top secret', tags: ['private'] })
    await createTask(intruder, { title: 'Intruder own task' })
    const before = await snapshot(owner, task.id)
    for (const verb of VERBS)
      for (const ifMatch of [undefined, '*', before.etag!]) {
        const headers: Record<string, string> = ifMatch && verb.method !== 'GET' ? { 'if-match': ifMatch } : {}
        const reply = await intruder.call(verb.method, `/api/tasks/${task.id}${verb.suffix}`, { body: verb.body, headers })
        expect({ verb: label(verb), ifMatch, status: reply.status }).toEqual({ verb: label(verb), ifMatch, status: 403 })
        expect(reply.body).toEqual(errorBody('forbidden'))
        expect(reply.text).not.toContain('Secret plan')
        expect(reply.headers.get('etag')).toBeNull()
      }
    expect(await snapshot(owner, task.id)).toEqual(before)
    expect((await listOf(owner)).map((t) => t.id)).toEqual([task.id])
  })
})

describe('unknown and malformed ids', () => {
  test('an id no task has is 404 task_not_found on every verb', async () => {
    const user = await signedInUser()
    const mine = await createTask(user)
    const before = await snapshot(user, mine.id)
    for (const id of [2147483648, Number.MAX_SAFE_INTEGER])
      for (const verb of VERBS) {
        const reply = await user.call(verb.method, `/api/tasks/${id}${verb.suffix}`, { body: verb.body })
        expect({ verb: label(verb), status: reply.status }).toEqual({ verb: label(verb), status: 404 })
        expect(reply.body).toEqual({ detail: 'Task not found', code: 'task_not_found' })
      }
    expect(await snapshot(user, mine.id)).toEqual(before)
  })

  const FIXED = ['abc', '1.5', '-1', '0', '9007199254740992', '99999999999999999999', '0x10', '1e3', '%20']
  // Spellings of the user's own task id that a lax parser would accept and act on.
  const derived = (id: number) => [
    `${id}.0`,
    `${id}e0`,
    `0x${id.toString(16)}`,
    `+${id}`,
    `-${id}`,
    `${id}abc`,
    `%20${id}`,
    `${id}%20`,
    `${id}.5`,
  ]

  for (const prefix of ['/api/tasks', '/api/{me}/tasks'])
    test(`ids that are not integers from 1 to 2^53 - 1 are 422 naming "id" on every verb (${prefix})`, async () => {
      const user = await signedInUser()
      const mine = await createTask(user, { title: 'untouched' })
      const before = await snapshot(user, mine.id)
      const base = prefix.replace('{me}', user.id)
      for (const id of [...FIXED, ...derived(mine.id)])
        for (const verb of VERBS) {
          const reply = await user.call(verb.method, `${base}/${id}${verb.suffix}`, { body: verb.body })
          const fields = (reply.body?.errors ?? []).map((e: { field: string }) => e.field)
          const seen = { id, verb: label(verb), status: reply.status, code: reply.body?.code, fields }
          expect(seen).toEqual({ id, verb: label(verb), status: 422, code: 'validation_error', fields: ['id'] })
          expect(reply.body.detail).toContain('id')
          expectNoLeak(reply.text)
        }
      expect(await snapshot(user, mine.id)).toEqual(before)
      expect((await listOf(user)).length).toBe(1)
    })

  test('ids that change the path (%2F, .., %2E%2E) are a JSON 4xx and change nothing', async () => {
    const user = await signedInUser()
    const mine = await createTask(user, { title: 'untouched' })
    const before = await snapshot(user, mine.id)
    for (const base of ['/api/tasks', `/api/${user.id}/tasks`])
      for (const id of ['%2F', '..', '%2E%2E', `%2F${mine.id}`, `..%2F${mine.id}`])
        for (const verb of VERBS) {
          const reply = await user.call(verb.method, `${base}/${id}${verb.suffix}`, { body: verb.body })
          expect(reply.status).toBeGreaterThanOrEqual(400)
          expect(reply.status).toBeLessThan(500)
          expect(reply.body).toMatchObject({ detail: expect.any(String), code: expect.any(String) })
          expectNoLeak(reply.text)
        }
    expect(await snapshot(user, mine.id)).toEqual(before)
    expect((await listOf(user)).length).toBe(1)
  })
})

describe('/api/{user_id}/tasks', () => {
  test("with the token's own id every route works", async () => {
    const user = await signedInUser()
    const base = `/api/${user.id}/tasks`
    const created = await user.call('POST', base, { body: { title: '  Alias task  ', tags: ['a'] } })
    expect(created.status).toBe(201)
    const id = created.body.id as number
    expect(id).toBeInteger()
    expect(created.body).toMatchObject({ title: 'Alias task', tags: ['a'], completed: false })
    expect(created.body).not.toHaveProperty('user_id')
    const location = created.headers.get('location')!
    expect(location).toMatch(new RegExp(`^/api/(${user.id}/)?tasks/${id}$`))
    expect(created.headers.get('etag')).toMatch(/^"\d+\.\d+"$/)

    const viaLocation = await user.call('GET', location)
    expect(viaLocation.status).toBe(200)
    expect(viaLocation.body).toEqual(created.body)

    const list = await user.call('GET', base)
    expect(list.status).toBe(200)
    expect(list.body).toEqual([created.body])
    expect(list.headers.get('x-total-count')).toBe('1')

    const got = await user.call('GET', `${base}/${id}`)
    expect(got.status).toBe(200)
    expect(got.body).toEqual(created.body)
    expect(got.headers.get('etag')).toBe(created.headers.get('etag'))

    const put = await user.call('PUT', `${base}/${id}`, {
      body: { title: 'Put', priority: 'high' },
      headers: { 'if-match': got.headers.get('etag')! },
    })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({ id, title: 'Put', priority: 'high', tags: ['a'] })

    const patch = await user.call('PATCH', `${base}/${id}`, { body: { description: 'Patched' } })
    expect(patch.status).toBe(200)
    expect(patch.body).toMatchObject({ id, title: 'Put', description: 'Patched' })

    const toggled = await user.call('PATCH', `${base}/${id}/complete`)
    expect(toggled.status).toBe(200)
    expect(toggled.body.completed).toBe(true)
    const set = await user.call('PATCH', `${base}/${id}/complete`, { body: { completed: false } })
    expect(set.status).toBe(200)
    expect(set.body.completed).toBe(false)

    expect((await user.call('GET', `/api/tasks/${id}`)).body).toEqual(set.body)
    const deleted = await user.call('DELETE', `${base}/${id}`)
    expect(deleted.status).toBe(204)
    expect(deleted.text).toBe('')
    expect((await user.call('GET', `${base}/${id}`)).status).toBe(404)
    expect((await user.call('GET', base)).body).toEqual([])
  })

  test("with another user's id every route is 403 and nothing is created or changed", async () => {
    const me = await signedInUser('me')
    const other = await signedInUser('other')
    const mine = await createTask(me, { title: 'mine' })
    const theirs = await createTask(other, { title: 'theirs' })
    const [myBefore, theirBefore] = [await snapshot(me, mine.id), await snapshot(other, theirs.id)]
    const base = `/api/${other.id}/tasks`
    const replies: [string, Reply][] = [
      ['list', await me.call('GET', base)],
      ['create', await me.call('POST', base, { body: { title: 'planted' } })],
    ]
    for (const id of [theirs.id, mine.id, 2147483647])
      for (const verb of VERBS)
        replies.push([`${label(verb)} ${id}`, await me.call(verb.method, `${base}/${id}${verb.suffix}`, { body: verb.body })])
    for (const [what, reply] of replies) {
      expect({ what, status: reply.status }).toEqual({ what, status: 403 })
      expect(reply.body).toEqual(errorBody('forbidden'))
      expect(reply.text).not.toContain('theirs')
      expect(reply.headers.get('location')).toBeNull()
    }
    expect(await snapshot(me, mine.id)).toEqual(myBefore)
    expect(await snapshot(other, theirs.id)).toEqual(theirBefore)
    expect((await listOf(me)).map((t) => t.id)).toEqual([mine.id])
    expect((await listOf(other)).map((t) => t.id)).toEqual([theirs.id])
  })
})

describe('task lists', () => {
  test("never contain another user's tasks, whatever the filter", async () => {
    const alice = await signedInUser('alice')
    const bob = await signedInUser('bob')
    const shared = { description: 'shared words', tags: ['common'], priority: 'high' }
    const aliceIds = [
      (await createTask(alice, { title: 'Common alpha', ...shared })).id,
      (await createTask(alice, { title: 'alpha only' })).id,
    ]
    const bobIds = [(await createTask(bob, { title: 'Common beta', ...shared })).id]
    await bob.call('PATCH', `/api/tasks/${bobIds[0]}/complete`)
    const queries = [
      '',
      '?status=all',
      '?status=completed',
      '?status=pending',
      '?q=common',
      '?q=%25',
      '?tag=common',
      '?priority=high',
      '?sort=title&order=asc',
      '?limit=1000',
    ]
    for (const [user, own] of [
      [alice, aliceIds],
      [bob, bobIds],
    ] as const)
      for (const query of queries) {
        const reply = await user.call('GET', `/api/tasks${query}`)
        expect(reply.status).toBe(200)
        const ids = (reply.body as { id: number }[]).map((t) => t.id)
        for (const id of ids) expect({ query, id, own: own.includes(id) }).toEqual({ query, id, own: true })
        expect(Number(reply.headers.get('x-total-count'))).toBe(ids.length)
        for (const task of reply.body) expect(task).not.toHaveProperty('user_id')
      }
    expect((await alice.call('GET', '/api/tasks?q=common')).body.map((t: { id: number }) => t.id)).toEqual([aliceIds[0]])
    expect((await bob.call('GET', '/api/tasks?q=common')).body.map((t: { id: number }) => t.id)).toEqual(bobIds)
    expect((await listOf(alice)).map((t) => t.id).sort()).toEqual([...aliceIds].sort())
  })
})
