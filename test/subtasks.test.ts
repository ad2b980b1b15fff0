// Lists, subtasks and order of tasks (CONTRACT.md, Tasks): list_id, parent_id,
// position, POST /api/tasks/{id}/move, and what a refused request leaves alone.
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { taskQuotas } from '../src/db/schema'
import { createTask, database, errorBody, makeList, signedInUser, type User, validationError } from './support'

/** Everything the user holds, by id: a refused request must leave it exactly as it was. */
async function snapshot(user: User) {
  const reply = await user.call('GET', '/api/tasks?limit=1000&sort=created_at&order=asc')
  expect(reply.status).toBe(200)
  return reply.body
}

async function taskCount(user: User) {
  const [quota] = await database.db.select().from(taskQuotas).where(eq(taskQuotas.userId, user.id))
  return quota?.taskCount
}

/** The 422 the contract wants: the field named in detail and errors, with this message. */
function refusal(field: string, message: string | RegExp) {
  return {
    detail: expect.stringContaining(field),
    code: 'validation_error',
    errors: [{ field, message: typeof message === 'string' ? message : expect.stringMatching(message) }],
  }
}

/** A top-level task, a subtask, a sub-subtask and one more level: the deepest nesting allowed. */
async function chain(user: User, body: Record<string, unknown> = {}) {
  const top = await createTask(user, { title: 'level 0', ...body })
  const one = await createTask(user, { title: 'level 1', parent_id: top.id })
  const two = await createTask(user, { title: 'level 2', parent_id: one.id })
  const three = await createTask(user, { title: 'level 3', parent_id: two.id })
  return [top, one, two, three] as const
}

const ids = (tasks: { id: number }[]) => tasks.map((task) => task.id)

async function refusedWithoutChange(user: User, request: () => Promise<{ status: number; body: unknown }>, status: number, body: unknown) {
  const before = await snapshot(user)
  const quota = await taskCount(user)
  const reply = await request()
  expect({ status: reply.status, body: reply.body }).toEqual({ status, body })
  expect(await snapshot(user)).toEqual(before)
  expect(await taskCount(user)).toBe(quota)
}

describe('POST /api/tasks with list_id and parent_id', () => {
  test('a task without list_id goes last in the default list, top level', async () => {
    const user = await signedInUser()
    const first = await createTask(user)
    const second = await createTask(user)
    expect([first.list_id, first.parent_id, first.position]).toEqual([second.list_id, null, 'a0'])
    expect(second.position).toBe('a1')
  })

  test('a burst of concurrent creates for one user all land, at distinct positions', async () => {
    const user = await signedInUser()
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) => user.call('POST', '/api/tasks', { body: { title: `burst ${i}` } })),
    )
    expect(replies.map((reply) => reply.status)).toEqual(replies.map(() => 201))
    expect(new Set(replies.map((reply) => reply.body.position)).size).toBe(60)
    expect(await taskCount(user)).toBe(60)
  })

  test('list_id puts it last at the top level of that list', async () => {
    const user = await signedInUser()
    await createTask(user)
    const list = await makeList(user)
    const first = await createTask(user, { list_id: list })
    const second = await createTask(user, { list_id: list })
    expect([first.list_id, first.position, second.list_id, second.position]).toEqual([list, 'a0', list, 'a1'])
  })

  test("parent_id makes a subtask in the parent's list, last among its siblings", async () => {
    const user = await signedInUser()
    const list = await makeList(user)
    const parent = await createTask(user, { list_id: list })
    const a = await createTask(user, { parent_id: parent.id })
    const b = await createTask(user, { parent_id: parent.id, list_id: list })
    expect([a.list_id, a.parent_id, a.position, b.parent_id, b.position]).toEqual([list, parent.id, 'a0', parent.id, 'a1'])
  })

  test('three levels below a top-level task are allowed, a fourth is 422 and nothing is created', async () => {
    const user = await signedInUser()
    const [, , , three] = await chain(user)
    await refusedWithoutChange(
      user,
      () => user.call('POST', '/api/tasks', { body: { title: 'too deep', parent_id: three.id } }),
      422,
      refusal('parent_id', /at most 3 ancestors/),
    )
  })

  test("a list or parent that is not the caller's is 422 naming the field, never 403, and nothing is created", async () => {
    const [user, other] = [await signedInUser(), await signedInUser()]
    await createTask(user)
    const theirs = await createTask(other)
    const theirList = await makeList(other)
    for (const [field, value] of [
      ['list_id', theirList],
      ['list_id', theirs.list_id],
      ['list_id', Number.MAX_SAFE_INTEGER],
      ['parent_id', theirs.id],
      ['parent_id', Number.MAX_SAFE_INTEGER],
    ] as const) {
      const message = field === 'list_id' ? 'is not one of your lists' : 'is not one of your tasks'
      await refusedWithoutChange(
        user,
        () => user.call('POST', '/api/tasks', { body: { title: 'x', [field]: value } }),
        422,
        refusal(field, message),
      )
    }
  })

  test("a subtask in another list than its parent's is 422 naming list_id", async () => {
    const user = await signedInUser()
    const parent = await createTask(user)
    const list = await makeList(user)
    await refusedWithoutChange(
      user,
      () => user.call('POST', '/api/tasks', { body: { title: 'x', parent_id: parent.id, list_id: list } }),
      422,
      refusal('list_id', `must be the parent task's list (${parent.list_id}): a subtask is in its parent's list`),
    )
  })

  test('position, a wrong id type and parent_id on PATCH are 422', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    for (const body of [
      { title: 'x', position: 'a0' },
      { title: 'x', list_id: '1' },
      { title: 'x', parent_id: 0 },
      { title: 'x', list_id: 1.5 },
    ]) {
      const field = Object.keys(body)[1]!
      await refusedWithoutChange(user, () => user.call('POST', '/api/tasks', { body }), 422, validationError(field))
    }
    await refusedWithoutChange(
      user,
      () => user.call('PATCH', `/api/tasks/${task.id}`, { body: { parent_id: null } }),
      422,
      validationError('parent_id'),
    )
  })
})

describe('PUT and PATCH list_id', () => {
  test('moves the task with its subtasks, last at the top of the new list; every moved task gets a new ETag', async () => {
    const user = await signedInUser()
    const list = await makeList(user)
    const already = await createTask(user, { list_id: list })
    const [top, one, two] = await chain(user)
    const etag = (await user.call('GET', `/api/tasks/${two.id}`)).headers.get('etag')
    for (const method of ['PUT', 'PATCH']) {
      const target = method === 'PUT' ? list : top.list_id
      const reply = await user.call(method, `/api/tasks/${top.id}`, { body: { list_id: target, title: 'moved' } })
      expect(reply.status).toBe(200)
      expect(reply.body).toMatchObject({ id: top.id, list_id: target, parent_id: null, title: 'moved' })
      if (method === 'PUT') expect(reply.body.position > (already.position as string)).toBe(true)
      const [sub, subsub] = [await user.call('GET', `/api/tasks/${one.id}`), await user.call('GET', `/api/tasks/${two.id}`)]
      expect([sub.body.list_id, sub.body.parent_id, subsub.body.list_id, subsub.body.parent_id]).toEqual([target, top.id, target, one.id])
      expect(subsub.headers.get('etag')).not.toBe(etag)
    }
  })

  test("a subtask's own list_id is 422; naming its current list is no change", async () => {
    const user = await signedInUser()
    const [top, one] = await chain(user)
    const list = await makeList(user)
    await refusedWithoutChange(
      user,
      () => user.call('PATCH', `/api/tasks/${one.id}`, { body: { list_id: list } }),
      422,
      refusal('list_id', /cannot change on a subtask/),
    )
    const same = await user.call('PUT', `/api/tasks/${one.id}`, { body: { list_id: top.list_id, title: 'level 1' } })
    expect([same.status, same.body.updated_at]).toEqual([200, one.updated_at])
  })

  test("another user's list is 422 and nothing changes; If-Match that changed is 412", async () => {
    const [user, other] = [await signedInUser(), await signedInUser()]
    const task = await createTask(user)
    const theirs = await makeList(other)
    await refusedWithoutChange(
      user,
      () => user.call('PATCH', `/api/tasks/${task.id}`, { body: { list_id: theirs } }),
      422,
      refusal('list_id', 'is not one of your lists'),
    )
    const list = await makeList(user)
    await refusedWithoutChange(
      user,
      () => user.call('PATCH', `/api/tasks/${task.id}`, { body: { list_id: list }, headers: { 'if-match': `"${task.id}.9"` } }),
      412,
      errorBody('precondition_failed'),
    )
  })
})

describe('GET /api/tasks: list_id, parent_id and sort=position', () => {
  test('filters by list, top level and parent; sorts by position ascending unless told', async () => {
    const user = await signedInUser()
    const list = await makeList(user)
    const a = await createTask(user, { list_id: list })
    const b = await createTask(user, { list_id: list })
    const sub = await createTask(user, { parent_id: a.id })
    const elsewhere = await createTask(user)
    // b to the front: position and created_at now disagree.
    expect((await user.call('POST', `/api/tasks/${b.id}/move`, { body: { before_id: a.id } })).status).toBe(200)
    const get = async (query: string) => ids((await user.call('GET', `/api/tasks?${query}`)).body)
    // Keys order siblings only: a's first subtask has a's key, and the id breaks the tie.
    expect(await get(`list_id=${list}&sort=position`)).toEqual([b.id, a.id, sub.id])
    expect(await get(`list_id=${list}&parent_id=none&sort=position`)).toEqual([b.id, a.id])
    expect(await get(`list_id=${list}&parent_id=none&sort=position&order=desc`)).toEqual([a.id, b.id])
    expect(await get(`parent_id=${a.id}`)).toEqual([sub.id])
    expect(await get('parent_id=none&sort=created_at&order=asc')).toEqual([a.id, b.id, elsewhere.id])
    expect(await get(`list_id=${elsewhere.list_id}`)).toEqual([elsewhere.id])
    expect(await get(`parent_id=${sub.id}`)).toEqual([])
  })

  test("an id that is not the caller's is 422 naming the filter; a malformed one too", async () => {
    const [user, other] = [await signedInUser(), await signedInUser()]
    const theirs = await createTask(other)
    await createTask(user)
    for (const [query, field, message] of [
      [`list_id=${theirs.list_id}`, 'list_id', 'is not one of your lists'],
      [`parent_id=${theirs.id}`, 'parent_id', 'is not one of your tasks'],
      [`list_id=${theirs.list_id}&offset=50`, 'list_id', 'is not one of your lists'],
    ] as const) {
      const reply = await user.call('GET', `/api/tasks?${query}`)
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 422, body: refusal(field, message) })
    }
    for (const query of ['list_id=none', 'parent_id=0', 'parent_id=top', 'list_id=-1', 'sort=rank'])
      expect((await user.call('GET', `/api/tasks?${query}`)).status).toBe(422)
  })
})

describe('DELETE /api/tasks/{id}: the whole subtree', () => {
  test('deletes every level below, gives every slot back, and leaves siblings alone', async () => {
    const user = await signedInUser()
    const keep = await createTask(user)
    const [top, one, two, three] = await chain(user)
    const besideOne = await createTask(user, { parent_id: top.id })
    expect(await taskCount(user)).toBe(6)
    const reply = await user.call('DELETE', `/api/tasks/${one.id}`)
    expect([reply.status, reply.text]).toEqual([204, ''])
    for (const gone of [one, two, three]) expect((await user.call('GET', `/api/tasks/${gone.id}`)).status).toBe(404)
    expect(ids(await snapshot(user))).toEqual([keep.id, top.id, besideOne.id])
    expect(await taskCount(user)).toBe(3)
    expect((await user.call('DELETE', `/api/tasks/${top.id}`)).status).toBe(204)
    expect(ids(await snapshot(user))).toEqual([keep.id])
    expect(await taskCount(user)).toBe(1)
  })

  test('a stale If-Match is 412 and deletes nothing; another user gets 403', async () => {
    const [user, other] = [await signedInUser(), await signedInUser()]
    const [top] = await chain(user)
    await refusedWithoutChange(
      user,
      () => user.call('DELETE', `/api/tasks/${top.id}`, { headers: { 'if-match': `"${top.id}.7"` } }),
      412,
      errorBody('precondition_failed'),
    )
    await refusedWithoutChange(user, () => other.call('DELETE', `/api/tasks/${top.id}`), 403, errorBody('forbidden'))
  })
})

describe('completing a task completes its open subtasks', () => {
  for (const [name, complete] of [
    ['toggle', (user: User, id: number) => user.call('PATCH', `/api/tasks/${id}/complete`)],
    ['set', (user: User, id: number) => user.call('PATCH', `/api/tasks/${id}/complete`, { body: { completed: true } })],
    ['PATCH', (user: User, id: number) => user.call('PATCH', `/api/tasks/${id}`, { body: { completed: true } })],
    ['PUT', (user: User, id: number) => user.call('PUT', `/api/tasks/${id}`, { body: { completed: true } })],
  ] as const)
    test(`${name}: all levels complete; reopening leaves them completed`, async () => {
      const user = await signedInUser()
      const [top, one, two, three] = await chain(user)
      const other = await createTask(user)
      const reply = await complete(user, one.id)
      expect([reply.status, reply.body.completed]).toEqual([200, true])
      const state = async () =>
        Object.fromEntries((await snapshot(user)).map((task: { id: number; completed: boolean }) => [task.id, task.completed]))
      expect(await state()).toEqual({ [top.id]: false, [one.id]: true, [two.id]: true, [three.id]: true, [other.id]: false })
      expect((await user.call('PATCH', `/api/tasks/${one.id}/complete`)).body.completed).toBe(false)
      expect(await state()).toEqual({ [top.id]: false, [one.id]: false, [two.id]: true, [three.id]: true, [other.id]: false })
    })
})

describe('POST /api/tasks/{id}/move', () => {
  async function siblings(user: User, list: number, parent: number | 'none' = 'none') {
    return ids((await user.call('GET', `/api/tasks?list_id=${list}&parent_id=${parent}&sort=position`)).body)
  }

  test('after_id, before_id, both, or neither (last) order the siblings; the answer has a new ETag', async () => {
    const user = await signedInUser()
    const [a, b, c, d] = [await createTask(user), await createTask(user), await createTask(user), await createTask(user)]
    const list = a.list_id as number
    const before = await user.call('GET', `/api/tasks/${d.id}`)
    const moved = await user.call('POST', `/api/tasks/${d.id}/move`, { body: { after_id: a.id } })
    expect(moved.status).toBe(200)
    expect(moved.body).toMatchObject({ id: d.id, list_id: list, parent_id: null, title: d.title })
    expect(moved.headers.get('etag')).not.toBe(before.headers.get('etag'))
    expect(await siblings(user, list)).toEqual([a.id, d.id, b.id, c.id])
    await user.call('POST', `/api/tasks/${a.id}/move`, { body: { before_id: c.id } })
    expect(await siblings(user, list)).toEqual([d.id, b.id, a.id, c.id])
    await user.call('POST', `/api/tasks/${c.id}/move`, { body: { after_id: d.id, before_id: b.id } })
    expect(await siblings(user, list)).toEqual([d.id, c.id, b.id, a.id])
    await user.call('POST', `/api/tasks/${d.id}/move`, { body: { parent_id: null } })
    expect(await siblings(user, list)).toEqual([c.id, b.id, a.id, d.id])
  })

  test('after_id and before_id with siblings between them place the task right after after_id', async () => {
    const user = await signedInUser()
    const [a, b, c, d, e] = [
      await createTask(user),
      await createTask(user),
      await createTask(user),
      await createTask(user),
      await createTask(user),
    ]
    const list = a.list_id as number
    // The key halfway between a's and c's was b's: it took the place of b's key.
    const moved = await user.call('POST', `/api/tasks/${e.id}/move`, { body: { after_id: a.id, before_id: c.id } })
    expect([moved.status, await siblings(user, list)]).toEqual([200, [a.id, e.id, b.id, c.id, d.id]])
    const wide = await user.call('POST', `/api/tasks/${a.id}/move`, { body: { after_id: e.id, before_id: d.id } })
    expect([wide.status, await siblings(user, list)]).toEqual([200, [e.id, a.id, b.id, c.id, d.id]])
  })

  test('re-parents and re-lists with the subtree; parent_id null lifts a subtask to the top', async () => {
    const user = await signedInUser()
    const [top, one, two] = await chain(user)
    const other = await createTask(user)
    const list = await makeList(user)
    const lifted = await user.call('POST', `/api/tasks/${one.id}/move`, { body: { parent_id: null, list_id: list } })
    expect(lifted.status).toBe(200)
    expect(lifted.body).toMatchObject({ list_id: list, parent_id: null })
    expect((await user.call('GET', `/api/tasks/${two.id}`)).body).toMatchObject({ list_id: list, parent_id: one.id })
    const under = await user.call('POST', `/api/tasks/${one.id}/move`, { body: { parent_id: other.id } })
    expect(under.body).toMatchObject({ list_id: top.list_id, parent_id: other.id })
    expect((await user.call('GET', `/api/tasks/${two.id}`)).body).toMatchObject({ list_id: top.list_id, parent_id: one.id })
    expect(await siblings(user, top.list_id as number, other.id)).toEqual([one.id])
  })

  test('each refused move is 422 naming its field, with nothing changed', async () => {
    const [user, other] = [await signedInUser(), await signedInUser()]
    const [top, one, two, three] = await chain(user)
    const [x, y] = [await createTask(user), await createTask(user)]
    const sub = await createTask(user, { parent_id: x.id })
    const theirs = await createTask(other)
    const theirList = await makeList(other)
    const list = await makeList(user)
    const cases: [number, Record<string, unknown>, string, string | RegExp][] = [
      [top.id, { parent_id: top.id }, 'parent_id', 'cannot be the task itself'],
      [top.id, { parent_id: two.id }, 'parent_id', /is a subtask of this task/],
      [one.id, { parent_id: three.id }, 'parent_id', /is a subtask of this task/],
      [x.id, { parent_id: two.id }, 'parent_id', /at most 3 ancestors/],
      [one.id, { parent_id: sub.id }, 'parent_id', /at most 3 ancestors/],
      [x.id, { parent_id: theirs.id }, 'parent_id', 'is not one of your tasks'],
      [x.id, { list_id: theirList }, 'list_id', 'is not one of your lists'],
      [x.id, { parent_id: top.id, list_id: list }, 'list_id', /must be the parent task's list/],
      [sub.id, { list_id: list }, 'list_id', /cannot change on a subtask/],
      [x.id, { after_id: theirs.id }, 'after_id', 'is not one of your tasks'],
      [x.id, { before_id: one.id }, 'before_id', /is not a sibling at the destination/],
      [x.id, { after_id: x.id }, 'after_id', 'must be another task than the one moved'],
      [x.id, { list_id: list, after_id: y.id }, 'after_id', /is not a sibling at the destination/],
      [x.id, { after_id: y.id, before_id: top.id }, 'before_id', 'must come after after_id among the siblings'],
    ]
    for (const [id, body, field, message] of cases)
      await refusedWithoutChange(user, () => user.call('POST', `/api/tasks/${id}/move`, { body }), 422, refusal(field, message))
    for (const body of [{}, { parent_id: 'x' }, { after_id: 0 }, { position: 'a0' }])
      await refusedWithoutChange(
        user,
        () => user.call('POST', `/api/tasks/${x.id}/move`, { body }),
        422,
        expect.objectContaining({ code: 'validation_error' }),
      )
  })

  test('If-Match: a changed task is 412 with nothing moved; the current ETag or * moves it', async () => {
    const user = await signedInUser()
    const [a, b] = [await createTask(user), await createTask(user)]
    const etag = (await user.call('GET', `/api/tasks/${b.id}`)).headers.get('etag')!
    await user.call('PATCH', `/api/tasks/${b.id}`, { body: { title: 'changed' } })
    const move = (ifMatch: string) =>
      user.call('POST', `/api/tasks/${b.id}/move`, { body: { before_id: a.id }, headers: { 'if-match': ifMatch } })
    await refusedWithoutChange(user, () => move(etag), 412, errorBody('precondition_failed'))
    const current = (await user.call('GET', `/api/tasks/${b.id}`)).headers.get('etag')!
    expect((await move(current)).status).toBe(200)
    expect((await move('*')).status).toBe(200)
  })

  test("another user's task in the path is 403, a missing one 404; the /api/{user_id} alias moves too", async () => {
    const [user, other] = [await signedInUser(), await signedInUser()]
    const [a, b] = [await createTask(user), await createTask(user)]
    await refusedWithoutChange(
      user,
      () => other.call('POST', `/api/tasks/${a.id}/move`, { body: { parent_id: null } }),
      403,
      errorBody('forbidden'),
    )
    const missing = await user.call('POST', `/api/tasks/${Number.MAX_SAFE_INTEGER}/move`, { body: { parent_id: null } })
    expect({ status: missing.status, body: missing.body }).toEqual({ status: 404, body: errorBody('task_not_found') })
    const alias = await user.call('POST', `/api/${user.id}/tasks/${b.id}/move`, { body: { before_id: a.id } })
    expect([alias.status, await siblings(user, a.list_id as number)]).toEqual([200, [b.id, a.id]])
    const wrong = await user.call('POST', `/api/${other.id}/tasks/${b.id}/move`, { body: { after_id: a.id } })
    expect(wrong.status).toBe(403)
  })

  test('1,000 alternating moves between two neighbours keep keys short and distinct', async () => {
    const user = await signedInUser()
    const [a, b, c] = [await createTask(user), await createTask(user), await createTask(user)]
    const list = a.list_id as number
    // The worst case for midpoint keys: each move lands in the gap the last one made.
    let longest = 0
    for (let i = 0; i < 1000; i++) {
      const [mover, anchor] = i % 2 === 0 ? [c, b] : [b, c]
      const reply = await user.call('POST', `/api/tasks/${mover.id}/move`, { body: { after_id: a.id, before_id: anchor.id } })
      expect(reply.status).toBe(200)
      longest = Math.max(longest, reply.body.position.length)
    }
    const rows = (await user.call('GET', `/api/tasks?list_id=${list}&sort=position`)).body
    // The last move (the 1,000th) put b between a and c.
    expect(ids(rows)).toEqual([a.id, b.id, c.id])
    expect(new Set(rows.map((task: { position: string }) => task.position)).size).toBe(3)
    console.log(
      `longest key after 1,000 alternating moves: ${longest} characters; now ${rows.map((t: { position: string }) => t.position).join(' ')}`,
    )
    expect(longest).toBeLessThanOrEqual(32)
  }, 120_000)

  test('concurrent moves within one sibling group never share a position', async () => {
    const user = await signedInUser()
    const tasks: Awaited<ReturnType<typeof createTask>>[] = []
    for (let i = 0; i < 6; i++) tasks.push(await createTask(user))
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        user.call('POST', `/api/tasks/${tasks[i % 6]!.id}/move`, { body: { after_id: tasks[(i + 1) % 6]!.id } }),
      ),
    )
    expect(replies.map((reply) => reply.status)).toEqual(replies.map(() => 200))
    const rows = (await user.call('GET', `/api/tasks?list_id=${tasks[0]!.list_id}&sort=position`)).body
    expect(rows.length).toBe(6)
    expect(new Set(rows.map((task: { position: string }) => task.position)).size).toBe(6)
  })
})
