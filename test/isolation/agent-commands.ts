// The attacker's commands through /mcp, with the SDK's own client: the REST
// refusals as tool errors. Another user's task as task_id is forbidden (as in
// a path); another user's list or task as list_id or parent_id is a
// validation error naming the field (as in a body or query); user_id naming
// another user is forbidden whatever the tool. The check after the step
// proves that nothing changed, for the victim or the attacker.
import { expect } from 'bun:test'
import fc from 'fast-check'
import { errorOf, type McpClient, mcpClient } from '../mcp-client'
import type { User } from '../support'
import { type Model, pickId, USERS } from './model'
import { holder, label, type Real, Step, show } from './steps'

const clients = new WeakMap<User, Promise<McpClient>>()
const clientOf = (user: User) => {
  if (!clients.has(user)) clients.set(user, mcpClient(user.token))
  return clients.get(user)!
}

/** What the attacker names of the victim's: a task as task_id, a list or task in a field, or the victim as user_id. */
export type AgentAim =
  | { by: 'task_id'; tool: 'get_task' | 'update_task' | 'complete_task' | 'delete_task' }
  | { by: 'list_id' | 'parent_id'; tool: 'add_task' | 'list_tasks' }
  | { by: 'user_id'; tool: 'add_task' | 'list_tasks' | 'get_task' | 'list_lists' | 'create_list' }

export const agentAimArb: fc.Arbitrary<AgentAim> = fc.oneof(
  fc.record({ by: fc.constant('task_id' as const), tool: fc.constantFrom('get_task', 'update_task', 'complete_task', 'delete_task') }),
  fc.record({ by: fc.constantFrom('list_id' as const, 'parent_id' as const), tool: fc.constantFrom('add_task', 'list_tasks') }),
  fc.record({
    by: fc.constant('user_id' as const),
    tool: fc.constantFrom('add_task', 'list_tasks', 'get_task', 'list_lists', 'create_list'),
  }),
)

// The rest of a call that would succeed on the attacker's own data.
const REST_OF_CALL: Record<string, Record<string, unknown>> = {
  add_task: { title: 'planted' },
  update_task: { title: 'planted' },
  create_list: { name: 'planted' },
}

export class AgentAttack extends Step {
  constructor(
    readonly attacker: number,
    readonly victimOffset: number,
    readonly pick: number,
    readonly aim: AgentAim,
  ) {
    super()
  }
  preferred = () => (this.attacker + 1 + this.victimOffset) % USERS
  kind = () => (this.aim.by === 'list_id' ? 'lists' : 'tasks') as 'tasks' | 'lists'
  // user_id needs no data of the victim's: any other user will do.
  victim = (model: Readonly<Model>) =>
    this.aim.by === 'user_id' ? this.preferred() : holder(model, this.preferred(), this.kind(), this.attacker)
  check = (model: Readonly<Model>) => this.victim(model) !== undefined
  toString = () => `${label(this.attacker)} over MCP: ${this.aim.tool} with ${this.aim.by} of holder(${label(this.preferred())})`
  async step(model: Model, real: Real) {
    const victimIndex = this.victim(model)!
    const victim = model.users[victimIndex]!
    const { by, tool } = this.aim
    const foreign = by === 'user_id' ? real.users[victimIndex]!.id : pickId(victim[this.kind()].keys(), this.pick)
    // A task id the attacker may name as their own, where a tool needs one besides the aim.
    const ownTask = pickId([...model.users[this.attacker]!.tasks.keys(), Number.MAX_SAFE_INTEGER], this.pick)
    const args = { ...REST_OF_CALL[tool], ...(tool === 'get_task' && by === 'user_id' ? { task_id: ownTask } : {}), [by]: foreign }
    const result = await (await clientOf(real.users[this.attacker]!)).callTool({ name: tool, arguments: args })
    const error = errorOf(result)
    if (by === 'list_id' || by === 'parent_id')
      expect(error).toEqual({
        detail: expect.stringContaining(by),
        code: 'validation_error',
        errors: [{ field: by, message: expect.any(String) }],
      })
    else expect(error).toEqual({ detail: expect.any(String), code: 'forbidden' })
    if (by !== 'user_id') {
      const secret = this.kind() === 'tasks' ? victim.tasks.get(foreign as number)!.title : victim.lists.get(foreign as number)!.name
      expect(JSON.stringify(error)).not.toContain(show(secret))
    }
    return `${label(this.attacker)} over MCP: ${tool} ${show(args)} on ${label(victimIndex)}'s → ${error.code}`
  }
}
