import { describe, expect, test } from 'bun:test'
import { and, eq, sql } from 'drizzle-orm'
import { lists, taskQuotas, tasks } from '../src/db/schema'
import { call, createTask, database, errorBody, expectUnauthenticated, signedInUser, type User, validationError } from './support'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
type ListBody = { id: number; name: string; color: string | null; is_default: boolean; position: string; open_count: number }

const PREFIXES = [(_: User) => '/api/lists', (user: User) => `/api/${user.id}/lists`] as const

async function createList(user: User, body: Record<string, unknown> = {}) {
  const reply = await user.call('POST', '/api/lists', { body: { name: 'A list', ...body } })
  if (reply.status !== 201) throw new Error(`createList: ${reply.status} ${reply.text}`)
  return reply.body as ListBody
}

async function listsOf(user: User) {
  const reply = await user.call('GET', '/api/lists')
  expect(reply.status).toBe(200)
  return reply.body as ListBody[]
}

/** The user's lists in order, by name; positions strictly increasing byte by byte. */
async function order(user: User) {
  const all = await listsOf(user)
  const positions = all.map((list) => list.position)
  expect(positions).toEqual([...positions].sort((a, b) => (Buffer.from(a).compare(Buffer.from(b)) < 0 ? -1 : 1)))
  expect(new Set(positions).size).toBe(positions.length)
  return all.map((list) => list.name)
}

async function quotaOf(user: User) {
  const [row] = await database.db
    .select({ userId: taskQuotas.userId, taskCount: taskQuotas.taskCount, listCount: taskQuotas.listCount })
    .from(taskQuotas)
    .where(eq(taskQuotas.userId, user.id))
  return row
}

describe('GET /api/lists', () => {
  test("a user's first GET already shows the default list, Inbox; on both prefixes", async () => {
    for (const prefix of PREFIXES) {
      const user = await signedInUser()
      const reply = await user.call('GET', prefix(user))
      expect(reply.status).toBe(200)
      expect(reply.body).toEqual([
        {
          id: expect.any(Number),
          name: 'Inbox',
          color: null,
          is_default: true,
          position: expect.any(String),
          open_count: 0,
          created_at: expect.stringMatching(ISO),
          updated_at: expect.stringMatching(ISO),
        },
      ])
      expect(await listsOf(user)).toEqual(reply.body)
      expect(await quotaOf(user)).toEqual({ userId: user.id, taskCount: 0, listCount: 1 })
    }
  })

  test('two first requests at once make exactly one Inbox', async () => {
    for (let round = 0; round < 5; round++) {
      const user = await signedInUser()
      const replies = await Promise.all([
        user.call('GET', '/api/lists'),
        user.call('GET', '/api/lists'),
        user.call('POST', '/api/lists', { body: { name: 'Work' } }),
        user.call('POST', '/api/tasks', { body: { title: 'First' } }),
      ])
      expect(replies.map((reply) => reply.status)).toEqual([200, 200, 201, 201])
      const defaults = await database.db
        .select()
        .from(lists)
        .where(and(eq(lists.userId, user.id), eq(lists.isDefault, true)))
      expect(defaults).toHaveLength(1)
      expect(await order(user)).toEqual(['Inbox', 'Work'])
      expect(await quotaOf(user)).toEqual({ userId: user.id, taskCount: 1, listCount: 2 })
    }
  })

  test('open_count counts the tasks not completed, subtasks included', async () => {
    const user = await signedInUser()
    const first = await createTask(user)
    const done = await createTask(user)
    expect((await user.call('PATCH', `/api/tasks/${done.id}/complete`)).status).toBe(200)
    const [inbox] = await listsOf(user)
    expect(inbox!.open_count).toBe(1)
    // A subtask, as the subtask routes will make it.
    await database.db.insert(tasks).values({ userId: user.id, listId: inbox!.id, parentId: first.id, position: 'a0', title: 'Sub' })
    expect((await listsOf(user))[0]!.open_count).toBe(2)
  })

  test('without a token: 401', async () => {
    expectUnauthenticated(await call('GET', '/api/lists'), 'token_missing')
  })
})

describe('POST /api/lists', () => {
  test('creates a list placed last, with Location and ETag; on both prefixes', async () => {
    for (const prefix of PREFIXES) {
      const user = await signedInUser()
      const reply = await user.call('POST', prefix(user), { body: { name: '  Work  ', color: '#3366FF' } })
      expect(reply.status).toBe(201)
      expect(reply.body).toEqual({
        id: expect.any(Number),
        name: 'Work',
        color: '#3366ff',
        is_default: false,
        position: expect.any(String),
        open_count: 0,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      })
      expect(reply.headers.get('location')).toBe(`${prefix(user)}/${reply.body.id}`)
      expect(reply.headers.get('etag')).toBe(`"${reply.body.id}.1.0"`)
      const fetched = await user.call('GET', reply.headers.get('location')!)
      expect(fetched.status).toBe(200)
      expect(fetched.body).toEqual(reply.body)
      expect(fetched.headers.get('etag')).toBe(reply.headers.get('etag'))
      await createList(user, { name: 'Home' })
      expect(await order(user)).toEqual(['Inbox', 'Work', 'Home'])
    }
  })

  test('refuses bad bodies with 422 naming the field, and stores nothing', async () => {
    const user = await signedInUser()
    const cases: [unknown, string, string][] = [
      [{}, 'name', 'is required'],
      [{ name: '   ' }, 'name', 'must be 1 to 100 characters (after trimming)'],
      [{ name: 'x'.repeat(101) }, 'name', 'must be 1 to 100 characters (after trimming)'],
      [{ name: 'Work', color: 'red' }, 'color', 'must be a colour as #rrggbb, or null'],
      [{ name: 'Work', color: '#abc' }, 'color', 'must be a colour as #rrggbb, or null'],
      [{ name: 'Work', is_default: true }, 'is_default', 'is not an accepted field'],
      [{ name: 'Work', position: 'a0' }, 'position', 'is not an accepted field'],
      [{ name: 'Work', user_id: 'someone' }, 'user_id', 'is not an accepted field'],
    ]
    for (const [body, field, message] of cases) {
      const reply = await user.call('POST', '/api/lists', { body })
      expect({ body, status: reply.status, reply: reply.body }).toEqual({
        body,
        status: 422,
        reply: { detail: `${field}: ${message}`, code: 'validation_error', errors: [{ field, message }] },
      })
    }
    expect(await order(user)).toEqual(['Inbox'])
    expect(await createList(user, { name: 'x'.repeat(100), color: null })).toMatchObject({ name: 'x'.repeat(100), color: null })
  })

  test('100 concurrent creates of a new user all succeed, each at a position of its own, after one Inbox', async () => {
    const user = await signedInUser()
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => user.call('POST', '/api/lists', { body: { name: `L${i}` } })))
    expect(replies.filter((reply) => reply.status !== 201).map((reply) => reply.text)).toEqual([])
    const names = await order(user)
    expect(names).toHaveLength(101)
    expect(names[0]).toBe('Inbox')
    expect((await quotaOf(user))!.listCount).toBe(101)
  })

  test('at most 1,000 lists: 20 concurrent creates with 10 slots left, exactly 10 succeed', async () => {
    const user = await signedInUser()
    await listsOf(user)
    await database.db.update(taskQuotas).set({ listCount: 990 }).where(eq(taskQuotas.userId, user.id))
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => user.call('POST', '/api/lists', { body: { name: `L${i}` } })))
    const statuses = replies.map((reply) => reply.status).sort()
    expect(statuses).toEqual([...Array(10).fill(201), ...Array(10).fill(409)])
    for (const reply of replies.filter((r) => r.status === 409))
      expect(reply.body).toEqual({ detail: 'List limit reached: a user holds at most 1000 lists', code: 'list_limit' })
    expect(await listsOf(user)).toHaveLength(11)
    expect((await quotaOf(user))!.listCount).toBe(1000)
    // Deleting one gives its slot back.
    const created = replies.find((reply) => reply.status === 201)!.body as ListBody
    expect((await user.call('DELETE', `/api/lists/${created.id}`)).status).toBe(204)
    expect((await user.call('POST', '/api/lists', { body: { name: 'Again' } })).status).toBe(201)
    expect((await user.call('POST', '/api/lists', { body: { name: 'Over' } })).status).toBe(409)
  })
})

describe('GET /api/lists/{id}, and ids in the path', () => {
  test('404 list_not_found for an id no list has, 422 for a malformed id, on every route', async () => {
    const user = await signedInUser()
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PUT', '', { name: 'x' }],
      ['PATCH', '', { name: 'x' }],
      ['DELETE', '', undefined],
      ['POST', '/move', { after_id: 1 }],
    ] as const) {
      const missing = await user.call(method, `/api/lists/${Number.MAX_SAFE_INTEGER}${suffix}`, { body })
      expect([method, suffix, missing.status, missing.body]).toEqual([
        method,
        suffix,
        404,
        { detail: 'List not found', code: 'list_not_found' },
      ])
      const malformed = await user.call(method, `/api/lists/1x${suffix}`, { body })
      expect([method, suffix, malformed.status, malformed.body]).toEqual([method, suffix, 422, validationError('id')])
    }
  })
})

describe('PUT and PATCH /api/lists/{id}', () => {
  test('change the fields sent; the ETag and updated_at move only when a value changes; on both prefixes', async () => {
    for (const prefix of PREFIXES)
      for (const method of ['PUT', 'PATCH']) {
        const user = await signedInUser()
        const list = await createList(user, { name: 'Work', color: '#000000' })
        const renamed = await user.call(method, `${prefix(user)}/${list.id}`, { body: { name: ' Office ' } })
        expect(renamed.status).toBe(200)
        expect(renamed.body).toEqual({ ...list, name: 'Office', updated_at: expect.stringMatching(ISO) })
        expect(renamed.headers.get('etag')).toBe(`"${list.id}.2.0"`)
        const same = await user.call(method, `${prefix(user)}/${list.id}`, { body: { name: 'Office', color: '#000000' } })
        expect(same.body).toEqual(renamed.body)
        expect(same.headers.get('etag')).toBe(`"${list.id}.2.0"`)
        const recoloured = await user.call(method, `${prefix(user)}/${list.id}`, { body: { color: null } })
        expect(recoloured.body).toMatchObject({ name: 'Office', color: null })
        expect(recoloured.headers.get('etag')).toBe(`"${list.id}.3.0"`)
      }
  })

  test('the default list can be renamed', async () => {
    const user = await signedInUser()
    const [inbox] = await listsOf(user)
    const reply = await user.call('PATCH', `/api/lists/${inbox!.id}`, { body: { name: 'Later' } })
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ name: 'Later', is_default: true })
  })

  test('If-Match: 412 when the list changed, and nothing changes; the current tag or * proceeds', async () => {
    const user = await signedInUser()
    const list = await createList(user, { name: 'Work' })
    const stale = `"${list.id}.1.0"`
    expect((await user.call('PATCH', `/api/lists/${list.id}`, { body: { name: 'Two' }, headers: { 'if-match': stale } })).status).toBe(200)
    const refused = await user.call('PUT', `/api/lists/${list.id}`, { body: { name: 'Three' }, headers: { 'if-match': stale } })
    expect(refused.status).toBe(412)
    expect(refused.body).toEqual({ detail: 'The list has changed since the ETag in If-Match was issued', code: 'precondition_failed' })
    expect((await user.call('GET', `/api/lists/${list.id}`)).body.name).toBe('Two')
    for (const tag of [`"${list.id}.2.0"`, '*'])
      expect((await user.call('PATCH', `/api/lists/${list.id}`, { body: { color: '#111111' }, headers: { 'if-match': tag } })).status).toBe(
        200,
      )
  })

  test('an empty or unknown body is 422', async () => {
    const user = await signedInUser()
    const list = await createList(user)
    const empty = await user.call('PATCH', `/api/lists/${list.id}`, { body: {} })
    expect(empty.status).toBe(422)
    expect(empty.body).toEqual({
      detail: 'body: must set at least one of name, color',
      code: 'validation_error',
      errors: [{ field: 'body', message: 'must set at least one of name, color' }],
    })
    const unknown = await user.call('PUT', `/api/lists/${list.id}`, { body: { name: 'x', open_count: 3 } })
    expect(unknown.body).toEqual(validationError('open_count'))
  })
})

describe('DELETE /api/lists/{id}', () => {
  test('deletes the list and its tasks in one go, giving the task and list slots back; on both prefixes', async () => {
    for (const prefix of PREFIXES) {
      const user = await signedInUser()
      const kept = await createTask(user, { title: 'In the Inbox' })
      const list = await createList(user, { name: 'Doomed' })
      // Tasks with a list_id are made by the task routes; here they go in directly, counted as a create counts them.
      const [parent] = await database.db
        .insert(tasks)
        .values({ userId: user.id, listId: list.id, position: 'a0', title: 'Parent' })
        .returning({ id: tasks.id })
      await database.db.insert(tasks).values([
        { userId: user.id, listId: list.id, parentId: parent!.id, position: 'a0', title: 'Child' },
        { userId: user.id, listId: list.id, position: 'a1', title: 'Done', completed: true },
      ])
      await database.db
        .update(taskQuotas)
        .set({ taskCount: sql`${taskQuotas.taskCount} + 3` })
        .where(eq(taskQuotas.userId, user.id))
      expect((await user.call('GET', `/api/lists/${list.id}`)).body.open_count).toBe(2)
      expect(await quotaOf(user)).toEqual({ userId: user.id, taskCount: 4, listCount: 2 })

      const reply = await user.call('DELETE', `${prefix(user)}/${list.id}`)
      expect(reply.status).toBe(204)
      expect(reply.text).toBe('')
      expect(await quotaOf(user)).toEqual({ userId: user.id, taskCount: 1, listCount: 1 })
      expect(await database.db.select({ id: tasks.id }).from(tasks).where(eq(tasks.userId, user.id))).toEqual([{ id: kept.id }])
      expect((await user.call('GET', `/api/lists/${list.id}`)).status).toBe(404)
      expect((await user.call('DELETE', `${prefix(user)}/${list.id}`)).status).toBe(404)
    }
  })

  test('the default list cannot be deleted: 409 default_list, and it keeps its tasks', async () => {
    const user = await signedInUser()
    await createTask(user)
    const [inbox] = await listsOf(user)
    for (const headers of [{}, { 'if-match': '*' }, { 'if-match': `"${inbox!.id}.1.1"` }] as Record<string, string>[]) {
      const reply = await user.call('DELETE', `/api/lists/${inbox!.id}`, { headers })
      expect(reply.status).toBe(409)
      expect(reply.body).toEqual({ detail: 'The default list cannot be deleted', code: 'default_list' })
    }
    expect(await listsOf(user)).toEqual([inbox!])
  })

  test('If-Match: 412 when the list changed, and it stays', async () => {
    const user = await signedInUser()
    const list = await createList(user)
    await user.call('PATCH', `/api/lists/${list.id}`, { body: { name: 'Changed' } })
    const reply = await user.call('DELETE', `/api/lists/${list.id}`, { headers: { 'if-match': `"${list.id}.1.0"` } })
    expect(reply.status).toBe(412)
    expect(reply.body).toEqual(errorBody('precondition_failed'))
    expect((await user.call('DELETE', `/api/lists/${list.id}`, { headers: { 'if-match': `"${list.id}.2.0"` } })).status).toBe(204)
  })
})

describe('POST /api/lists/{id}/move', () => {
  async function fourLists() {
    const user = await signedInUser()
    const [inbox] = await listsOf(user)
    const [a, b, c] = [await createList(user, { name: 'A' }), await createList(user, { name: 'B' }), await createList(user, { name: 'C' })]
    return { user, inbox: inbox!, a, b, c }
  }

  test('after_id and before_id place the list next to another, first or last; on both prefixes', async () => {
    for (const prefix of PREFIXES) {
      const { user, inbox, a, b, c } = await fourLists()
      const move = (id: number, body: Record<string, number>) => user.call('POST', `${prefix(user)}/${id}/move`, { body })
      const moved = await move(c.id, { after_id: inbox.id })
      expect(moved.status).toBe(200)
      expect(moved.body).toEqual({ ...c, position: expect.any(String), updated_at: expect.stringMatching(ISO) })
      expect(moved.headers.get('etag')).toBe(`"${c.id}.2.0"`)
      expect(await order(user)).toEqual(['Inbox', 'C', 'A', 'B'])
      expect((await move(b.id, { before_id: inbox.id })).status).toBe(200)
      expect(await order(user)).toEqual(['B', 'Inbox', 'C', 'A'])
      expect((await move(b.id, { after_id: a.id })).status).toBe(200)
      expect(await order(user)).toEqual(['Inbox', 'C', 'A', 'B'])
      expect((await move(a.id, { before_id: c.id })).status).toBe(200)
      expect(await order(user)).toEqual(['Inbox', 'A', 'C', 'B'])
      const positions = (await listsOf(user)).map((list) => list.position)
      expect((await user.call('GET', `/api/lists/${a.id}`)).body.position).toBe(positions[1])
    }
  })

  test('a move to where the list already is changes nothing, not even the ETag', async () => {
    const { user, a, b } = await fourLists()
    const before = await user.call('GET', `/api/lists/${b.id}`)
    const reply = await user.call('POST', `/api/lists/${b.id}/move`, { body: { after_id: a.id } })
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual(before.body)
    expect(reply.headers.get('etag')).toBe(before.headers.get('etag'))
  })

  test('the anchor must be another list of the caller: 422 naming the field, whoever owns it, and nothing moves', async () => {
    const { user, a } = await fourLists()
    const other = await signedInUser('other')
    const [theirs] = await listsOf(other)
    const message = 'must be the id of another of your lists'
    for (const field of ['after_id', 'before_id'])
      for (const anchor of [a.id, theirs!.id, Number.MAX_SAFE_INTEGER]) {
        const reply = await user.call('POST', `/api/lists/${a.id}/move`, { body: { [field]: anchor } })
        expect([field, anchor, reply.status, reply.body]).toEqual([
          field,
          anchor,
          422,
          { detail: `${field}: ${message}`, code: 'validation_error', errors: [{ field, message }] },
        ])
      }
    expect(await order(user)).toEqual(['Inbox', 'A', 'B', 'C'])
  })

  test('exactly one of after_id, before_id, each an id', async () => {
    const { user, a, b, c } = await fourLists()
    const exactlyOne = {
      detail: 'body: must set exactly one of after_id, before_id',
      code: 'validation_error',
      errors: [{ field: 'body', message: 'must set exactly one of after_id, before_id' }],
    }
    for (const body of [{}, { after_id: b.id, before_id: c.id }]) {
      const reply = await user.call('POST', `/api/lists/${a.id}/move`, { body })
      expect([body, reply.status, reply.body]).toEqual([body, 422, exactlyOne])
    }
    for (const bad of ['2', 0, -1, 1.5, null])
      expect((await user.call('POST', `/api/lists/${a.id}/move`, { body: { after_id: bad } })).body).toEqual(validationError('after_id'))
    expect((await user.call('POST', `/api/lists/${a.id}/move`, { body: { parent_id: 1 } })).body).toEqual(validationError('parent_id'))
  })

  test('the default list stays where it is: 409 default_list', async () => {
    const { user, inbox, c } = await fourLists()
    const reply = await user.call('POST', `/api/lists/${inbox.id}/move`, { body: { after_id: c.id } })
    expect(reply.status).toBe(409)
    expect(reply.body).toEqual({ detail: 'The default list cannot be moved', code: 'default_list' })
    expect(await order(user)).toEqual(['Inbox', 'A', 'B', 'C'])
  })

  test('If-Match: 412 when the list changed, and it stays put', async () => {
    const { user, inbox, c } = await fourLists()
    await user.call('PATCH', `/api/lists/${c.id}`, { body: { name: 'C2' } })
    const stale = await user.call('POST', `/api/lists/${c.id}/move`, {
      body: { after_id: inbox.id },
      headers: { 'if-match': `"${c.id}.1.0"` },
    })
    expect(stale.status).toBe(412)
    expect(stale.body).toEqual(errorBody('precondition_failed'))
    expect(await order(user)).toEqual(['Inbox', 'A', 'B', 'C2'])
    const current = await user.call('POST', `/api/lists/${c.id}/move`, {
      body: { after_id: inbox.id },
      headers: { 'if-match': `"${c.id}.2.0"` },
    })
    expect(current.status).toBe(200)
    expect(await order(user)).toEqual(['Inbox', 'C2', 'A', 'B'])
  })

  test('concurrent moves and creates never give two lists one position', async () => {
    const { user, inbox } = await fourLists()
    const more = await Promise.all(Array.from({ length: 6 }, (_, i) => createList(user, { name: `M${i}` })))
    const replies = await Promise.all([
      ...more.map((list) => user.call('POST', `/api/lists/${list.id}/move`, { body: { after_id: inbox.id } })),
      ...Array.from({ length: 4 }, (_, i) => user.call('POST', '/api/lists', { body: { name: `N${i}` } })),
    ])
    expect(replies.map((reply) => reply.status)).toEqual([...Array(6).fill(200), ...Array(4).fill(201)])
    const names = await order(user)
    expect(names).toHaveLength(14)
    expect(names.slice(0, 1)).toEqual(['Inbox'])
    expect(names.slice(1, 7).sort()).toEqual(more.map((list) => list.name).sort())
  })

  test('1,000 alternating moves into one gap keep keys short (renumbered past 32 characters)', async () => {
    const { user, inbox, a, b } = await fourLists()
    let longest = 0
    for (let i = 0; i < 1000; i++) {
      // Each move lands between the Inbox and the list moved just before: the gap halves every time.
      const reply = await user.call('POST', `/api/lists/${i % 2 ? a.id : b.id}/move`, { body: { after_id: inbox.id } })
      expect(reply.status).toBe(200)
      longest = Math.max(longest, reply.body.position.length)
    }
    console.log(`lists: the longest key after 1,000 alternating moves into one gap: ${longest} characters`)
    expect(longest).toBeLessThanOrEqual(32)
    expect(longest).toBeGreaterThan(10)
    expect(await order(user)).toEqual(['Inbox', 'A', 'B', 'C'])
  }, 120_000)
})

describe("another user's lists", () => {
  test('are 403 on every path, never listed, and never changed', async () => {
    const owner = await signedInUser('owner')
    const intruder = await signedInUser('intruder')
    const secret = await createList(owner, { name: 'Secret plans' })
    const [ownerInbox] = await listsOf(owner)
    const [intruderInbox] = await listsOf(intruder)
    const before = await listsOf(owner)
    for (const id of [secret.id, ownerInbox!.id])
      for (const [method, suffix, body] of [
        ['GET', '', undefined],
        ['PUT', '', { name: 'hijacked' }],
        ['PATCH', '', { color: '#ff0000' }],
        ['DELETE', '', undefined],
        ['POST', '/move', { after_id: intruderInbox!.id }],
      ] as const)
        for (const headers of [{}, { 'if-match': '*' }] as Record<string, string>[]) {
          const reply = await intruder.call(method, `/api/lists/${id}${suffix}`, { body, headers })
          expect([method, suffix, reply.status, reply.body]).toEqual([
            method,
            suffix,
            403,
            { detail: 'This list belongs to another user', code: 'forbidden' },
          ])
          expect(reply.text).not.toContain('Secret')
        }
    // The owner's user id in the path is not the intruder's.
    for (const path of [`/api/${owner.id}/lists`, `/api/${owner.id}/lists/${secret.id}`])
      expect((await intruder.call('GET', path)).status).toBe(403)
    expect((await intruder.call('POST', `/api/${owner.id}/lists`, { body: { name: 'Planted' } })).status).toBe(403)
    expect((await listsOf(intruder)).map((list) => list.id)).toEqual([intruderInbox!.id])
    expect(await listsOf(owner)).toEqual(before)
  })
})
