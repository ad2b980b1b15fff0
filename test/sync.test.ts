// GET /api/sync (CONTRACT.md, Sync): a snapshot, then the changes since a
// cursor, paged; deletions, cascades included; expired and malformed cursors.
import { describe, expect, test } from 'bun:test'
import { DELETIONS_KEPT_DAYS, forgetDeletions } from '../src/sync/purge'
import { type Change, expectConverged, Replica, sync } from './replica'
import { createTask, database, errorBody, makeList, signedInUser, validationError } from './support'

describe('GET /api/sync', () => {
  test("without a cursor: every list and task as upserts (a new user's default list included)", async () => {
    const user = await signedInUser()
    const first = await sync(user)
    expect(first.changes).toEqual([
      { type: 'list', op: 'upsert', id: expect.any(Number), data: expect.objectContaining({ is_default: true }) },
    ])
    expect(first.has_more).toBe(false)
    const work = await makeList(user, 'Work')
    const task = await createTask(user, { title: 'In work', list_id: work })
    const snapshot = await sync(user)
    expect(snapshot.changes.map((change) => [change.type, change.op, change.id])).toEqual([
      ['list', 'upsert', first.changes[0]!.id],
      ['list', 'upsert', work],
      ['task', 'upsert', task.id],
    ])
    // data is the resource as GET answers it.
    expect(snapshot.changes[2]!.data).toEqual((await user.call('GET', `/api/tasks/${task.id}`)).body)
    expect(snapshot.changes[1]!.data).toEqual((await user.call('GET', `/api/lists/${work}`)).body)
  })

  test('with a cursor: what changed since, each resource once in its latest state, oldest first; nothing more is nothing', async () => {
    const user = await signedInUser()
    const replica = new Replica()
    await replica.catchUp(user)
    const a = await createTask(user, { title: 'a' })
    const b = await createTask(user, { title: 'b' })
    await user.call('PATCH', `/api/tasks/${a.id}`, { body: { title: 'a2' } })
    await user.call('PATCH', `/api/tasks/${a.id}`, { body: { title: 'a3' } })
    const answer = await sync(user, replica.cursor)
    const tasks = answer.changes.filter((change) => change.type === 'task')
    expect(tasks.map((change) => change.id)).toEqual([b.id, a.id])
    expect(tasks[1]!.data).toMatchObject({ title: 'a3' })
    // The Inbox comes again too: its open_count moved.
    expect(answer.changes.filter((change) => change.type === 'list')).toHaveLength(1)
    const nothing = await sync(user, answer.cursor)
    expect(nothing).toEqual({ changes: [], cursor: answer.cursor, has_more: false })
  })

  test('deletions are changes: a task, its subtasks, a list with its tasks; the client converges', async () => {
    const user = await signedInUser()
    const replica = new Replica()
    const work = await makeList(user, 'Work')
    const parent = await createTask(user, { title: 'parent', list_id: work })
    const child = await createTask(user, { title: 'child', parent_id: parent.id })
    const other = await createTask(user, { title: 'other' })
    await replica.catchUp(user)
    expect(replica.items.size).toBe(5)

    expect((await user.call('DELETE', `/api/tasks/${parent.id}`)).status).toBe(204)
    const afterTask = await sync(user, replica.cursor)
    expect(afterTask.changes.filter((change) => change.op === 'delete').map((change) => change.id)).toEqual([parent.id, child.id])
    replica.apply(afterTask.changes)
    replica.cursor = afterTask.cursor

    await createTask(user, { title: 'again', list_id: work })
    expect((await user.call('DELETE', `/api/lists/${work}`)).status).toBe(204)
    await user.call('PATCH', `/api/tasks/${other.id}/complete`)
    await expectConverged(user, replica)
    expect([...replica.items.keys()].filter((key) => key.startsWith('list:'))).toHaveLength(1)
  })

  test('cascades reach the feed: completing completes subtasks, moving a task moves its subtree; the lists follow', async () => {
    const user = await signedInUser()
    const replica = new Replica()
    const work = await makeList(user, 'Work')
    const parent = await createTask(user, { title: 'parent' })
    const child = await createTask(user, { title: 'child', parent_id: parent.id })
    await createTask(user, { title: 'grandchild', parent_id: child.id })
    await replica.catchUp(user)
    await user.call('PATCH', `/api/tasks/${parent.id}/complete`)
    await expectConverged(user, replica)
    await user.call('POST', `/api/tasks/${parent.id}/move`, { body: { list_id: work } })
    await expectConverged(user, replica)
    await user.call('PATCH', `/api/tasks/${child.id}`, { body: { completed: false } })
    const home = await makeList(user, 'Home')
    expect((await user.call('POST', `/api/lists/${home}/move`, { body: { before_id: work } })).status).toBe(200)
    expect((await user.call('PATCH', `/api/lists/${work}`, { body: { name: 'Office' } })).status).toBe(200)
    await expectConverged(user, replica)
  })

  test('paging: a snapshot and a delta page by limit; writes between pages are not lost and the client converges', async () => {
    const user = await signedInUser()
    const ids: number[] = []
    for (let i = 0; i < 12; i++) ids.push((await createTask(user, { title: `t${i}` })).id)
    const replica = new Replica()
    let step = 0
    const pages = await replica.catchUp(user, 3, async () => {
      // Between pages: change one already read, one not yet read, delete one, add one.
      step++
      await user.call('PATCH', `/api/tasks/${ids[step]}`, { body: { title: `renamed ${step}` } })
      await user.call('PATCH', `/api/tasks/${ids[11 - step]}/complete`)
      if (step === 2) await user.call('DELETE', `/api/tasks/${ids[5]}`)
      if (step === 3) await createTask(user, { title: 'late' })
    })
    expect(pages).toBeGreaterThan(4)
    await expectConverged(user, replica)
  })

  test('a deleted account: the other devices sync every deletion', async () => {
    const user = await signedInUser()
    const replica = new Replica()
    await createTask(user, { title: 'a' })
    await replica.catchUp(user)
    expect((await user.call('DELETE', '/api/auth/me')).status).toBe(204)
    const answer = await sync(user, replica.cursor)
    expect(answer.changes.every((change) => change.op === 'delete')).toBe(true)
    replica.apply(answer.changes)
    expect(replica.items.size).toBe(0)
  })

  test("a malformed cursor, another user's cursor or a wrong limit: 422 naming the field", async () => {
    const user = await signedInUser()
    const other = await signedInUser()
    const { cursor } = await sync(other)
    const huge = `${'A'.repeat(60_000)}.${cursor.split('.')[1]}`
    for (const bad of ['', 'x', 'abc.def', `${cursor}x`, cursor.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), `${cursor}.1`, huge]) {
      const reply = await user.call('GET', `/api/sync?cursor=${encodeURIComponent(bad)}`)
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError('cursor'))
    }
    const stolen = await user.call('GET', `/api/sync?cursor=${encodeURIComponent(cursor)}`)
    expect(stolen.status).toBe(422)
    for (const limit of ['0', '1001', 'x', '1.5']) {
      const reply = await user.call('GET', `/api/sync?limit=${limit}`)
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError('limit'))
    }
  })

  test('without a token: 401', async () => {
    const { call } = await import('./support')
    expect((await call('GET', '/api/sync')).status).toBe(401)
  })

  test('an unknown parameter (a cache buster) is ignored, as on the other reads', async () => {
    const user = await signedInUser()
    const { cursor } = await sync(user)
    const task = await createTask(user)
    const reply = await user.call('GET', `/api/sync?cursor=${encodeURIComponent(cursor)}&_=1700000000`)
    expect(reply.status).toBe(200)
    expect(reply.body.changes.filter((change: Change) => change.type === 'task')).toEqual([
      { type: 'task', op: 'upsert', id: task.id, data: task },
    ])
  })

  // Last in this file: the sweep forgets every deletion in the database.
  test('deletions are forgotten after 30 days: an older cursor is 410 cursor_expired, a newer one still works', async () => {
    const user = await signedInUser()
    const { cursor: before } = await sync(user)
    const task = await createTask(user, { title: 'a' })
    expect((await user.call('DELETE', `/api/tasks/${task.id}`)).status).toBe(204)
    const { cursor: after } = await sync(user, before)
    const inThirtyDays = new Date(Date.now() + DELETIONS_KEPT_DAYS * 86_400_000 - 60_000)
    // Other files' older deletions may go; this user's stay.
    await forgetDeletions(database.db, inThirtyDays)
    expect((await user.call('GET', `/api/sync?cursor=${encodeURIComponent(before)}`)).status).toBe(200)
    expect(await forgetDeletions(database.db, new Date(inThirtyDays.getTime() + 120_000))).toBeGreaterThan(0)
    const expired = await user.call('GET', `/api/sync?cursor=${encodeURIComponent(before)}`)
    expect(expired.status).toBe(410)
    expect(expired.body).toEqual(errorBody('cursor_expired'))
    expect((await user.call('GET', `/api/sync?cursor=${encodeURIComponent(after)}`)).status).toBe(200)
    expect((await sync(user)).changes).toHaveLength(1)
  })
})
