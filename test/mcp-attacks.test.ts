// The attack matrix (attacks.test.ts) through /mcp: an attacker's agent aims
// every tool at the victim's tasks and lists, names the victim as user_id,
// plants server-owned fields, injects, floods and batches. Every call is a
// tool error or an HTTP refusal, never the victim's data, never a 5xx; after
// the table the victim's tasks, ETags and lists are exactly as before.
import { describe, expect, test } from 'bun:test'
import { answerOf, errorOf, mcpClient } from './mcp-client'
import { call, createTask, expectNoLeak, makeList, signedInUser } from './support'

const MCP_HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' }

async function scene() {
  const [victim, attacker] = [await signedInUser('victim'), await signedInUser('attacker')]
  const marker = `victim-secret-${crypto.randomUUID()}`
  const list = await makeList(victim, marker)
  const task = await createTask(victim, { title: marker, description: marker, tags: ['private'], list_id: list })
  const child = await createTask(victim, { title: `${marker} child`, parent_id: task.id })
  const own = await createTask(attacker, { title: 'attacker own' })
  const state = async () => {
    const tasks = await victim.call('GET', '/api/tasks?limit=1000')
    const etags = await Promise.all(tasks.body.map(({ id }: { id: number }) => victim.call('GET', `/api/tasks/${id}`)))
    const lists = await victim.call('GET', '/api/lists')
    return { tasks: tasks.body, etags: etags.map((reply) => reply.headers.get('etag')), lists: lists.body }
  }
  const before = await state()
  expect(before.tasks).toHaveLength(2)
  return { victim, attacker, marker, list, task, child, own, unchanged: async () => expect(await state()).toEqual(before) }
}

describe('attacks through /mcp', () => {
  test("API1/API3/API5: every tool aimed at the victim's ids or named for the victim is refused; nothing changes", async () => {
    const s = await scene()
    const agent = await mcpClient(s.attacker.token)
    const rows: [string, Record<string, unknown>, string, string?][] = [
      // The victim's task as task_id: forbidden, as a path with it is 403.
      ...(['get_task', 'complete_task', 'delete_task'] as const).map(
        (tool) => [tool, { task_id: s.task.id }, 'forbidden'] as [string, Record<string, unknown>, string],
      ),
      ['update_task', { task_id: s.task.id, title: 'taken' }, 'forbidden'],
      ['update_task', { task_id: s.child.id, completed: true }, 'forbidden'],
      ['complete_task', { task_id: s.child.id, completed: false }, 'forbidden'],
      // The victim's list or task in a field: 422 naming it, as in a body or query.
      ['add_task', { title: 'planted', list_id: s.list }, 'validation_error', 'list_id'],
      ['add_task', { title: 'planted', parent_id: s.task.id }, 'validation_error', 'parent_id'],
      ['update_task', { task_id: s.own.id, list_id: s.list }, 'validation_error', 'list_id'],
      ['list_tasks', { list_id: s.list }, 'validation_error', 'list_id'],
      ['list_tasks', { parent_id: s.task.id }, 'validation_error', 'parent_id'],
      // The victim as user_id, on every tool, even with the attacker's own ids.
      ['list_tasks', { user_id: s.victim.id }, 'forbidden'],
      ['list_lists', { user_id: s.victim.id }, 'forbidden'],
      ['get_task', { task_id: s.own.id, user_id: s.victim.id }, 'forbidden'],
      ['get_task', { task_id: s.task.id, user_id: s.victim.id }, 'forbidden'],
      ['add_task', { title: 'planted', user_id: s.victim.id }, 'forbidden'],
      ['create_list', { name: 'planted', user_id: s.victim.id }, 'forbidden'],
      ['update_task', { task_id: s.task.id, title: 'taken', user_id: s.victim.id }, 'forbidden'],
      ['complete_task', { task_id: s.task.id, user_id: s.victim.id }, 'forbidden'],
      ['delete_task', { task_id: s.task.id, user_id: s.victim.id }, 'forbidden'],
      // Server-owned and unknown fields, a polluted prototype: 422 naming them.
      ['add_task', { title: 'x', id: s.task.id }, 'validation_error', 'id'],
      ['add_task', { title: 'x', userId: s.victim.id }, 'validation_error', 'userId'],
      ['add_task', { title: 'x', owner: s.victim.id }, 'validation_error', 'owner'],
      ['update_task', { task_id: s.own.id, user_id: s.victim.id, title: 'x' }, 'forbidden'],
      ['update_task', { task_id: s.own.id, version: 99 }, 'validation_error', 'version'],
      ['update_task', { task_id: s.own.id, created_at: '2020-01-01T00:00:00Z' }, 'validation_error', 'created_at'],
      // Injection is data; sort is a closed list.
      ['list_tasks', { sort: 'created_at; drop table tasks' }, 'validation_error', 'sort'],
      ['list_tasks', { order: 'desc, user_id' }, 'validation_error', 'order'],
    ]
    try {
      for (const [tool, args, code, field] of rows) {
        const result = await agent.callTool({ name: tool, arguments: args })
        const text = JSON.stringify(result)
        expectNoLeak(text)
        expect({ tool, args, leaks: text.includes(s.marker) || text.includes(s.victim.token) }).toEqual({ tool, args, leaks: false })
        const error = errorOf(result)
        expect({ tool, args, code: error.code, fields: error.errors?.map((e) => e.field) }).toEqual({
          tool,
          args,
          code,
          fields: field ? [field] : undefined,
        })
      }
      // What the attacker can list is their own, whatever they search for.
      for (const q of [s.marker, "%' or '1'='1", '%', '_']) {
        const result = await agent.callTool({ name: 'list_tasks', arguments: { q } })
        expect(JSON.stringify(result)).not.toContain(s.marker)
        expect((result.structuredContent as { total: number }).total).toBeLessThanOrEqual(1)
      }
      const lists = await agent.callTool({ name: 'list_lists', arguments: {} })
      expect(JSON.stringify(lists)).not.toContain(s.marker)
      // A __proto__ key naming the victim and their list: the SDK's parsing of the message drops it (a REST body
      // would be 422). Either way it reaches neither the call nor any other object: the task is the attacker's own.
      const polluted = JSON.parse(`{"title": "x", "__proto__": {"user_id": ${JSON.stringify(s.victim.id)}, "list_id": ${s.list}}}`)
      const result = await agent.callTool({ name: 'add_task', arguments: polluted })
      expect(JSON.stringify(result)).not.toContain(s.marker)
      if (result.isError) expect(['validation_error', 'forbidden']).toContain(errorOf(result).code)
      else expect(answerOf(result)).toMatchObject({ title: 'x', list_id: s.own.list_id })
      expect(({} as Record<string, unknown>).user_id).toBeUndefined()
    } finally {
      await s.unchanged()
    }
  })

  test("API2: another user's token, a forged one, none: the attacker's calls never reach the victim's data", async () => {
    const s = await scene()
    for (const token of ['', 'Bearer', `${s.victim.token}x`, s.victim.token.split('.').slice(0, 2).join('.')]) {
      const reply = await call('POST', '/mcp', {
        headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` },
        body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_tasks', arguments: {} } },
      })
      expect(reply.status).toBe(401)
      expect(reply.text).not.toContain(s.marker)
    }
    await s.unchanged()
  })

  test('API4: floods, batches and deep nesting are refused at the door or as tool errors, never a 5xx', async () => {
    const s = await scene()
    const agent = await mcpClient(s.attacker.token)
    const post = (raw: string) => s.attacker.call('POST', '/mcp', { raw, headers: MCP_HEADERS })
    const toolCall = (args: unknown) =>
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add_task', arguments: args } })
    // Over 64 KiB: 413 before anything is parsed.
    expect((await post(toolCall({ title: 'x'.repeat(70_000) }))).status).toBe(413)
    // A JSON-RPC batch is not a JSON object (MCP no longer has batches): 422.
    expect((await post(`[${toolCall({ title: 'a' })},${toolCall({ title: 'b' })}]`)).status).toBe(422)
    // Nested deeper than any body of this API: 422 before validation.
    let deep: unknown = 'x'
    for (let i = 0; i < 50; i++) deep = [deep]
    expect((await post(toolCall({ title: 'x', tags: deep }))).status).toBe(422)
    // NUL is refused as in every body.
    expect((await post(toolCall({ title: 'a\u0000b' }))).status).toBe(422)
    // Too many tags, too long a title: tool errors naming the field.
    expect(
      errorOf(await agent.callTool({ name: 'add_task', arguments: { title: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) } }))
        .errors,
    ).toEqual([{ field: 'tags', message: expect.any(String) }])
    expect(errorOf(await agent.callTool({ name: 'list_tasks', arguments: { limit: 1_000_000 } })).errors).toEqual([
      { field: 'limit', message: expect.any(String) },
    ])
    expect((await s.attacker.call('GET', '/api/tasks')).body).toEqual([s.own])
    await s.unchanged()
  })
})
