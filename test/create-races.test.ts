// A create whose list or parent is deleted while it runs: the insert's
// foreign key check meets the deletion, and the answer is the 422 naming the
// field that no longer names one of the user's lists or tasks, never a 500.
// PostgreSQL only: the deletion runs on a connection of its own, held open
// until the create is seen waiting for it (PGlite has one connection).
import { afterAll, describe, expect, test } from 'bun:test'
import postgres from 'postgres'
import { createTask, type Reply, signedInUser, TEST_DATABASE_PREPARE, TEST_DATABASE_URL, validationError } from './support'

if (!TEST_DATABASE_URL) console.warn('create races skipped: they need PostgreSQL (set TEST_DATABASE_URL), PGlite has one connection')

describe.if(Boolean(TEST_DATABASE_URL))('a create racing a deletion (PostgreSQL)', () => {
  // Unprepared where the suite runs behind a transaction pooler (CI's PgBouncer run).
  const admin = TEST_DATABASE_URL ? postgres(TEST_DATABASE_URL, { max: 2, onnotice: () => {}, prepare: TEST_DATABASE_PREPARE }) : undefined
  afterAll(() => admin?.end({ timeout: 5 }))

  /**
   * Runs `remove` in a transaction, sends `create` meanwhile, and commits
   * only once the create waits on a row that transaction deleted: the create
   * has read the row as there (the deletion was not committed) and its
   * foreign key check is the first to see it gone.
   */
  async function createWhileDeleting(remove: (sql: postgres.TransactionSql) => Promise<unknown>, create: () => Promise<Reply>) {
    let reply: Promise<Reply> | undefined
    await admin!.begin(async (sql) => {
      const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }]
      await remove(sql)
      reply = create()
      // Polled, not slept: done as soon as the create is blocked by this transaction.
      for (let polls = 0; ; polls++) {
        const [waiting] = await admin!`select count(*)::int as count from pg_stat_activity where ${pid} = any(pg_blocking_pids(pid))`
        if (waiting!.count > 0) break
        if (polls > 500) throw new Error('the create never waited on the deletion')
        await Bun.sleep(10)
      }
    })
    return reply!
  }

  test('a subtask whose parent is deleted meanwhile: 422 naming parent_id, nothing created', async () => {
    const user = await signedInUser()
    const parent = await createTask(user)
    const reply = await createWhileDeleting(
      (sql) => sql`delete from tasks where user_id = ${user.id} and id = ${parent.id}`,
      () => user.call('POST', '/api/tasks', { body: { title: 'Late', parent_id: parent.id } }),
    )
    expect(reply.status).toBe(422)
    expect(reply.body).toEqual(validationError('parent_id'))
    expect((await user.call('GET', '/api/tasks')).body).toEqual([])
  })

  test('a task whose list is deleted meanwhile: 422 naming list_id, nothing created', async () => {
    const user = await signedInUser()
    const list = await user.call('POST', '/api/lists', { body: { name: 'Doomed' } })
    expect(list.status).toBe(201)
    const reply = await createWhileDeleting(
      (sql) => sql`delete from lists where user_id = ${user.id} and id = ${list.body.id}`,
      () => user.call('POST', '/api/tasks', { body: { title: 'Late', list_id: list.body.id } }),
    )
    expect(reply.status).toBe(422)
    expect(reply.body).toEqual(validationError('list_id'))
    expect((await user.call('GET', '/api/tasks')).body).toEqual([])
  })

  test("a subtask whose parent's list is deleted meanwhile: 422 naming parent_id, the field it sent", async () => {
    const user = await signedInUser()
    const list = await user.call('POST', '/api/lists', { body: { name: 'Doomed' } })
    const parent = await createTask(user, { list_id: list.body.id })
    const reply = await createWhileDeleting(
      (sql) => sql`delete from lists where user_id = ${user.id} and id = ${list.body.id}`,
      () => user.call('POST', '/api/tasks', { body: { title: 'Late', parent_id: parent.id } }),
    )
    expect(reply.status).toBe(422)
    expect(reply.body).toEqual(validationError('parent_id'))
  })
})
