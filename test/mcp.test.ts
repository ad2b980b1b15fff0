// /mcp (the Model Context Protocol endpoint) through the SDK's own client:
// the eight tools answer what the REST routes answer, with the REST rules;
// failed calls are tool results with isError; user_id must be the caller.
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { type TSchema, t } from 'elysia'
import { taskQuotas } from '../src/db/schema'
import { MAX_LISTS_PER_USER } from '../src/lists/arrange'
import { jsonSchema } from '../src/mcp/schemas'
import { MAX_TASKS_PER_USER } from '../src/tasks/create'
import { answerOf, errorOf, mcpClient } from './mcp-client'
import { app, createTask, database, makeList, signedInUser, type User } from './support'

const TOOL_NAMES = ['add_task', 'list_tasks', 'get_task', 'update_task', 'complete_task', 'delete_task', 'list_lists', 'create_list']
const WRITING = ['add_task', 'update_task', 'complete_task', 'delete_task', 'create_list']

async function agentOf(user: User) {
  const client = await mcpClient(user.token)
  return {
    client,
    call: (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args }),
    answer: async (name: string, args: Record<string, unknown> = {}) => answerOf(await client.callTool({ name, arguments: args })),
    error: async (name: string, args: Record<string, unknown> = {}) => errorOf(await client.callTool({ name, arguments: args })),
  }
}

const rest = async (user: User, path: string) => {
  const reply = await user.call('GET', path)
  expect(reply.status).toBe(200)
  return reply
}

describe('POST /mcp with the SDK client', () => {
  test('initialize names the server, offers tools and says how to use them', async () => {
    const { client } = await agentOf(await signedInUser())
    expect(client.getServerVersion()).toEqual({ name: 'todo-api', version: expect.any(String) })
    expect(client.getServerCapabilities()).toMatchObject({ tools: {} })
    expect(client.getInstructions()).toContain('list_tasks')
  })

  test('tools/list: the eight tools, each with input and output schemas, hints and a description written for a model', async () => {
    const { client } = await agentOf(await signedInUser())
    const { tools } = await client.listTools()
    expect(tools.map((tool) => tool.name).sort()).toEqual([...TOOL_NAMES].sort())
    for (const tool of tools) {
      const writes = WRITING.includes(tool.name)
      expect({ tool: tool.name, long: tool.description!.length > 120 }).toEqual({ tool: tool.name, long: true })
      expect(tool.inputSchema).toMatchObject({ type: 'object', additionalProperties: false })
      expect(Object.keys(tool.inputSchema.properties!)).toContain('user_id')
      expect({ tool: tool.name, key: 'idempotency_key' in tool.inputSchema.properties! }).toEqual({ tool: tool.name, key: writes })
      expect(tool.outputSchema).toMatchObject({ type: 'object', properties: expect.any(Object) })
      expect(tool.annotations).toMatchObject({
        readOnlyHint: !writes,
        destructiveHint: ['update_task', 'delete_task'].includes(tool.name),
        // Completing a recurring task moves it on each time: update_task and complete_task are not idempotent.
        idempotentHint: !['add_task', 'create_list', 'update_task', 'complete_task'].includes(tool.name),
        openWorldHint: false,
      })
      // TypeBox's own annotations stay out of what a client reads as JSON Schema.
      expect(JSON.stringify(tool)).not.toMatch(/"error":|"noValidate":|"Kind"/)
    }
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]))
    expect(byName.add_task!.inputSchema.required).toEqual(['title'])
    expect(byName.get_task!.inputSchema.required).toEqual(['task_id'])
    expect(byName.list_tasks!.outputSchema!.required).toEqual(['tasks', 'total'])
  })

  test('add_task answers the task as GET /api/tasks/{id} does, with the REST rules: title trimmed, default list, due date in UTC', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    const task = await agent.answer('add_task', {
      title: '  Buy milk  ',
      priority: 'high',
      tags: ['home'],
      due_date: '2026-01-31T18:00:00+01:00',
    })
    expect(task).toEqual((await rest(user, `/api/tasks/${task.id}`)).body)
    expect(task).toMatchObject({
      title: 'Buy milk',
      priority: 'high',
      tags: ['home'],
      due_date: '2026-01-31T17:00:00.000Z',
      completed: false,
    })
    const [inbox] = (await rest(user, '/api/lists')).body
    expect(task.list_id).toBe(inbox.id)
    const work = await makeList(user, 'Work')
    const sub = await agent.answer('add_task', { title: 'Subtask', parent_id: task.id })
    const elsewhere = await agent.answer('add_task', { title: 'At work', list_id: work })
    expect([sub.parent_id, sub.list_id, elsewhere.list_id]).toEqual([task.id, inbox.id, work])
  })

  test('list_tasks answers the tasks as GET /api/tasks does, with the total before paging; the same filters and sorts', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    const a = await createTask(user, { title: 'alpha', priority: 'low', tags: ['x'] })
    const b = await createTask(user, { title: 'beta', priority: 'high' })
    await user.call('PATCH', `/api/tasks/${a.id}/complete`)
    expect(await agent.answer('list_tasks')).toEqual({ tasks: (await rest(user, '/api/tasks')).body, total: 2 })
    for (const [args, query] of [
      [{ status: 'pending' }, 'status=pending'],
      [{ priority: 'low' }, 'priority=low'],
      [{ tag: 'x' }, 'tag=x'],
      [{ q: 'ALP' }, 'q=ALP'],
      [{ sort: 'title', order: 'asc' }, 'sort=title&order=asc'],
      [{ limit: 1 }, 'limit=1'],
      [{ limit: 1, offset: 1 }, 'limit=1&offset=1'],
      [{ parent_id: 'none' }, 'parent_id=none'],
    ] as const) {
      const listed = await rest(user, `/api/tasks?${query}`)
      expect({ args, answer: await agent.answer('list_tasks', args) }).toEqual({
        args,
        answer: { tasks: listed.body, total: Number(listed.headers.get('x-total-count')) },
      })
    }
    expect((await agent.answer('list_tasks', { limit: 1 })).total).toBe(2)
    expect((await agent.answer('list_tasks', { status: 'pending' })).tasks.map((task: { id: number }) => task.id)).toEqual([b.id])
  })

  test('whole-day due dates and the due filters work through the tools as on REST (a tz alias in any case too)', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    const day = await agent.answer('add_task', { title: 'whole day', due_date: '2031-05-04' })
    expect(day.due_date).toBe('2031-05-04')
    const moment = await agent.answer('add_task', { title: 'moment', due_date: '2031-05-04T10:00:00+09:00' })
    expect(moment.due_date).toBe('2031-05-04T01:00:00.000Z')
    await agent.answer('add_task', { title: 'no date' })
    for (const [args, query] of [
      [{ due_after: '2031-05-04', due_before: '2031-05-05', tz: 'asia/tokyo' }, 'due_after=2031-05-04&due_before=2031-05-05&tz=asia/tokyo'],
      [{ due: 'no_date' }, 'due=no_date'],
      [{ sort: 'due_date', order: 'asc', tz: 'America/New_York' }, 'sort=due_date&order=asc&tz=America/New_York'],
    ] as const) {
      const listed = await rest(user, `/api/tasks?${query}`)
      expect({ args, answer: await agent.answer('list_tasks', args) }).toEqual({
        args,
        answer: { tasks: listed.body, total: Number(listed.headers.get('x-total-count')) },
      })
    }
    expect((await agent.error('add_task', { title: 'bad', due_date: '2031-02-30' })).errors).toEqual([
      { field: 'due_date', message: 'is not a real date' },
    ])
  })
  test('get_task, update_task and delete_task answer as their routes do', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    const task = await createTask(user, { title: 'Draft', description: 'notes' })
    expect(await agent.answer('get_task', { task_id: task.id })).toEqual((await rest(user, `/api/tasks/${task.id}`)).body)
    const updated = await agent.answer('update_task', { task_id: task.id, title: ' Final ', description: null, tags: ['a', 'b'] })
    expect(updated).toMatchObject({ id: task.id, title: 'Final', description: null, tags: ['a', 'b'] })
    expect(updated).toEqual((await rest(user, `/api/tasks/${task.id}`)).body)
    const work = await makeList(user, 'Work')
    const child = await createTask(user, { title: 'child', parent_id: task.id })
    // A task moves to another list with its subtasks.
    expect((await agent.answer('update_task', { task_id: task.id, list_id: work })).list_id).toBe(work)
    expect((await rest(user, `/api/tasks/${child.id}`)).body.list_id).toBe(work)
    expect(await agent.answer('delete_task', { task_id: task.id })).toEqual({ task_id: task.id, deleted: true })
    for (const id of [task.id, child.id]) expect((await user.call('GET', `/api/tasks/${id}`)).status).toBe(404)
    // Deleting again: the task is not there.
    expect(await agent.error('delete_task', { task_id: task.id })).toEqual({ detail: 'Task not found', code: 'task_not_found' })
  })

  test('complete_task sets completion (twice is safe), completes open subtasks, and reopens with completed: false', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    const task = await createTask(user, { title: 'Parent' })
    const child = await createTask(user, { title: 'Child', parent_id: task.id })
    const done = await agent.answer('complete_task', { task_id: task.id })
    expect(done).toMatchObject({ id: task.id, completed: true })
    expect((await rest(user, `/api/tasks/${child.id}`)).body.completed).toBe(true)
    // Set, not toggled: a retry leaves it done, unchanged.
    expect(await agent.answer('complete_task', { task_id: task.id, completed: true })).toEqual(done)
    const reopened = await agent.answer('complete_task', { task_id: task.id, completed: false })
    expect(reopened.completed).toBe(false)
    expect((await rest(user, `/api/tasks/${child.id}`)).body.completed).toBe(true)
  })

  test('list_lists and create_list answer as GET /api/lists and GET /api/lists/{id} do', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    const { lists } = await agent.answer('list_lists')
    expect(lists).toEqual([expect.objectContaining({ name: 'Inbox', is_default: true })])
    const made = await agent.answer('create_list', { name: '  Groceries ', color: '#AABBCC' })
    expect(made).toMatchObject({ name: 'Groceries', color: '#aabbcc', is_default: false, open_count: 0 })
    expect(made).toEqual((await rest(user, `/api/lists/${made.id}`)).body)
    expect(await agent.answer('list_lists')).toEqual({ lists: (await rest(user, '/api/lists')).body })
  })
})

describe('a failed call is a tool result with isError, never a protocol error', () => {
  test('bad arguments name the field, with the REST wording', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    const task = await createTask(user)
    const cases: [string, Record<string, unknown>, string][] = [
      ['add_task', {}, 'title'],
      ['add_task', { title: '   ' }, 'title'],
      ['add_task', { title: 'x'.repeat(201) }, 'title'],
      ['add_task', { title: 'ok', priority: 'urgent' }, 'priority'],
      ['add_task', { title: 'ok', due_date: 'tomorrow' }, 'due_date'],
      ['add_task', { title: 'ok', due_date: '2026-02-30T10:00:00Z' }, 'due_date'],
      ['add_task', { title: 'ok', tags: ['a', 'a'] }, 'tags'],
      ['add_task', { title: 'ok', id: 5 }, 'id'],
      ['add_task', { title: 'ok', position: 'a0' }, 'position'],
      ['add_task', { title: 'ok', user: 'someone' }, 'user'],
      ['get_task', {}, 'task_id'],
      ['get_task', { task_id: String(task.id) }, 'task_id'],
      ['get_task', { task_id: 0 }, 'task_id'],
      ['get_task', { task_id: 1.5 }, 'task_id'],
      ['get_task', { task_id: Number.MAX_SAFE_INTEGER + 2 }, 'task_id'],
      ['update_task', { task_id: task.id }, 'arguments'],
      ['update_task', { task_id: task.id, parent_id: null }, 'parent_id'],
      ['complete_task', { task_id: task.id, completed: 'yes' }, 'completed'],
      ['list_tasks', { limit: 0 }, 'limit'],
      ['list_tasks', { limit: 1001 }, 'limit'],
      ['list_tasks', { sort: 'user_id' }, 'sort'],
      ['list_tasks', { status: 'done' }, 'status'],
      ['create_list', { name: '' }, 'name'],
      ['create_list', { name: 'ok', color: 'red' }, 'color'],
      ['add_task', { title: 'ok', idempotency_key: '' }, 'idempotency_key'],
      ['add_task', { title: 'ok', idempotency_key: 'é' }, 'idempotency_key'],
      ['get_task', { task_id: task.id, user_id: 7 }, 'user_id'],
    ]
    for (const [tool, args, field] of cases) {
      const error = await agent.error(tool, args)
      expect({ tool, args, error }).toEqual({
        tool,
        args,
        error: {
          detail: expect.stringContaining(field),
          code: 'validation_error',
          errors: expect.arrayContaining([{ field, message: expect.any(String) }]),
        },
      })
    }
    // Nothing was written by any of them.
    expect((await rest(user, '/api/tasks')).body).toEqual([expect.objectContaining({ id: task.id, title: 'A task' })])
  })

  test('a task that does not exist: task_not_found from every tool that names one', async () => {
    const agent = await agentOf(await signedInUser())
    for (const tool of ['get_task', 'update_task', 'complete_task', 'delete_task']) {
      const args = { task_id: Number.MAX_SAFE_INTEGER, ...(tool === 'update_task' ? { title: 'x' } : {}) }
      expect({ tool, error: await agent.error(tool, args) }).toEqual({ tool, error: { detail: 'Task not found', code: 'task_not_found' } })
    }
  })

  test('the limits: the 10,001st task and the 1,001st list are refused as on REST', async () => {
    const user = await signedInUser()
    const agent = await agentOf(user)
    await agent.answer('list_lists')
    await database.db
      .update(taskQuotas)
      .set({ taskCount: MAX_TASKS_PER_USER, listCount: MAX_LISTS_PER_USER })
      .where(eq(taskQuotas.userId, user.id))
    expect(await agent.error('add_task', { title: 'one too many' })).toEqual({
      detail: expect.stringContaining('10000'),
      code: 'task_limit_reached',
    })
    expect(await agent.error('create_list', { name: 'one too many' })).toEqual({ detail: expect.any(String), code: 'list_limit' })
    expect((await rest(user, '/api/tasks')).body).toEqual([])
    expect((await rest(user, '/api/lists')).body).toHaveLength(1)
  })

  test('an unknown tool is the protocol error the SDK expects (invalid params)', async () => {
    const agent = await agentOf(await signedInUser())
    await expect(agent.call('drop_tables')).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('drop_tables') })
  })
})

describe('user_id', () => {
  test("the caller's own id is accepted; any other is a tool error and nothing is read or written", async () => {
    const [user, other] = [await signedInUser(), await signedInUser()]
    const agent = await agentOf(user)
    const theirs = await createTask(other, { title: 'not yours' })
    expect((await agent.answer('add_task', { title: 'mine', user_id: user.id })).title).toBe('mine')
    expect((await agent.answer('list_tasks', { user_id: user.id })).total).toBe(1)
    for (const [tool, args] of [
      ['list_tasks', {}],
      ['list_lists', {}],
      ['get_task', { task_id: theirs.id }],
      ['add_task', { title: 'for them' }],
      ['create_list', { name: 'for them' }],
      ['update_task', { task_id: theirs.id, title: 'changed' }],
      ['complete_task', { task_id: theirs.id }],
      ['delete_task', { task_id: theirs.id }],
    ] as const) {
      for (const named of [other.id, other.id.toUpperCase(), `${user.id} `, ''])
        expect({ tool, named, error: await agent.error(tool, { ...args, user_id: named }) }).toEqual({
          tool,
          named,
          error: { detail: expect.stringContaining('user_id'), code: 'forbidden' },
        })
    }
    expect((await rest(other, '/api/tasks')).body).toEqual([theirs])
    expect((await rest(other, '/api/lists')).body).toHaveLength(1)
    expect((await rest(user, '/api/tasks')).body).toHaveLength(1)
  })
})

describe('the tools and their REST twins agree', () => {
  // A schema's rules, as JSON, without what only documents it (a keyword, not a field of the same name: title).
  const DOCUMENTING: Record<string, string> = {
    description: 'string',
    title: 'string',
    default: 'boolean',
    additionalProperties: 'boolean',
  }
  const rules = (schema: unknown) =>
    JSON.parse(JSON.stringify(schema ?? null), (key, value) =>
      typeof value === DOCUMENTING[key] || (key === 'default' && typeof value === 'number') || key === 'headers' ? undefined : value,
    )
  const ENVELOPE = ['user_id', 'idempotency_key', 'task_id']
  const own = (schema: { properties?: Record<string, unknown> }) =>
    rules(Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([field]) => !ENVELOPE.includes(field))))
  const fields = (schema: { properties: Record<string, TSchema> }) => rules(jsonSchema(t.Object(schema.properties)).properties)
  // What a route checks and answers, from the app's own route table.
  const hooks = (method: string, path: string) => {
    const route = app.routes.find((each) => each.method === method && each.path === path)!
    return route.hooks as { body?: any; query?: any; response?: Record<string, any> }
  }

  test('each tool takes the fields of its route, with the same rules, and answers the schema its route answers', async () => {
    const { tools } = await (await agentOf(await signedInUser())).client.listTools()
    const tool = Object.fromEntries(tools.map((each) => [each.name, each]))
    expect(own(tool.add_task!.inputSchema)).toEqual(fields(hooks('POST', '/api/tasks').body))
    expect(own(tool.update_task!.inputSchema)).toEqual(fields(hooks('PATCH', '/api/tasks/:id').body))
    expect(own(tool.complete_task!.inputSchema)).toEqual(fields(hooks('PATCH', '/api/tasks/:id/complete').body))
    expect(own(tool.create_list!.inputSchema)).toEqual(fields(hooks('POST', '/api/lists').body))
    expect(own(tool.list_tasks!.inputSchema)).toEqual(fields(hooks('GET', '/api/tasks').query))
    const answer = (method: string, path: string) => rules(jsonSchema(hooks(method, path).response![200]))
    for (const name of ['add_task', 'get_task', 'update_task', 'complete_task'])
      expect({ name, output: rules(tool[name]!.outputSchema) }).toEqual({ name, output: answer('GET', '/api/tasks/:id') })
    expect(rules(tool.list_tasks!.outputSchema!.properties!.tasks)).toEqual(answer('GET', '/api/tasks'))
    expect(rules(tool.list_lists!.outputSchema!.properties!.lists)).toEqual(answer('GET', '/api/lists'))
    expect(rules(tool.create_list!.outputSchema)).toEqual(answer('GET', '/api/lists/:id'))
  })
})
