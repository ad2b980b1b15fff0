// A list's strong ETag covers the list as answered, open_count included,
// which tasks change without touching the list's row: the same answer has
// the same tag, a different answer a different one, and If-Match compares it.
import { describe, expect, test } from 'bun:test'
import { createTask, errorBody, signedInUser, type User } from './support'

async function createList(user: User, name: string): Promise<number> {
  const reply = await user.call('POST', '/api/lists', { body: { name } })
  expect(reply.status).toBe(201)
  return reply.body.id
}

async function current(user: User, listId: number) {
  const reply = await user.call('GET', `/api/lists/${listId}`)
  expect(reply.status).toBe(200)
  return { tag: reply.headers.get('etag')!, list: reply.body as { open_count: number; name: string } }
}

describe('the ETag of a list', () => {
  test('changes whenever the answer does, open_count included, and only then', async () => {
    const user = await signedInUser()
    const listId = await createList(user, 'Work')
    const elsewhere = await createList(user, 'Home')
    const seen = [await current(user, listId)]
    const step = async (reply: Promise<{ status: number }>, status: number, openCount: number) => {
      expect((await reply).status).toBe(status)
      const now = await current(user, listId)
      expect(now.list.open_count).toBe(openCount)
      seen.push(now)
    }
    const task = await createTask(user, { list_id: listId })
    seen.push(await current(user, listId))
    expect(seen[1]!.list.open_count).toBe(1)
    const subtask = await createTask(user, { parent_id: task.id })
    seen.push(await current(user, listId))
    await step(user.call('PATCH', `/api/tasks/${subtask.id}/complete`), 200, 1)
    await step(user.call('PATCH', `/api/tasks/${subtask.id}`, { body: { completed: false } }), 200, 2)
    await step(user.call('POST', `/api/tasks/${task.id}/move`, { body: { list_id: elsewhere } }), 200, 0)
    await step(user.call('PUT', `/api/tasks/${task.id}`, { body: { list_id: listId } }), 200, 2)
    await step(user.call('DELETE', `/api/tasks/${subtask.id}`), 204, 1)
    await step(user.call('PATCH', `/api/lists/${listId}`, { body: { name: 'Office' } }), 200, 1)
    // Equal tags exactly where the answers are equal (a task moved out and back leaves the same answer).
    for (const a of seen) for (const b of seen) expect([a.tag === b.tag, a.tag]).toEqual([Bun.deepEquals(a.list, b.list), a.tag])
    // Every step above changed the answer, so every step changed the tag.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.tag).not.toBe(seen[i - 1]!.tag)
  })

  test('If-Match with a tag from before a task changed is 412 on PATCH, move and DELETE, and nothing changes', async () => {
    const user = await signedInUser()
    const listId = await createList(user, 'Work')
    const other = await createList(user, 'Home')
    const before = await current(user, listId)
    const task = await createTask(user, { list_id: listId })
    const writes = [
      () => user.call('PATCH', `/api/lists/${listId}`, { body: { name: 'Renamed' }, headers: { 'if-match': before.tag } }),
      () => user.call('PUT', `/api/lists/${listId}`, { body: { name: 'Renamed' }, headers: { 'if-match': before.tag } }),
      () => user.call('POST', `/api/lists/${listId}/move`, { body: { after_id: other }, headers: { 'if-match': before.tag } }),
      () => user.call('DELETE', `/api/lists/${listId}`, { headers: { 'if-match': before.tag } }),
    ]
    const order = async () => (await user.call('GET', '/api/lists')).body.map((list: { id: number }) => list.id)
    const orderBefore = await order()
    for (const write of writes) {
      const reply = await write()
      expect(reply.status).toBe(412)
      expect(reply.body).toEqual(errorBody('precondition_failed'))
    }
    const after = await current(user, listId)
    expect(after.list).toMatchObject({ name: 'Work', open_count: 1 })
    expect(await order()).toEqual(orderBefore)
    expect((await user.call('GET', `/api/tasks/${task.id}`)).status).toBe(200)
    // The tag as it is now proceeds.
    const renamed = await user.call('PATCH', `/api/lists/${listId}`, { body: { name: 'Renamed' }, headers: { 'if-match': after.tag } })
    expect(renamed.status).toBe(200)
    const moved = await user.call('POST', `/api/lists/${listId}/move`, {
      body: { after_id: other },
      headers: { 'if-match': renamed.headers.get('etag')! },
    })
    expect(moved.status).toBe(200)
    expect((await user.call('DELETE', `/api/lists/${listId}`, { headers: { 'if-match': moved.headers.get('etag')! } })).status).toBe(204)
  })
})
