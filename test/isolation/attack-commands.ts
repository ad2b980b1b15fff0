// The attacker's commands. Another user's id in a path is 403; in a body or a
// query (list_id, parent_id, after_id, before_id) it is 422 naming the field,
// never 403, exactly as for an id deleted earlier. Either way the check after
// the step proves that nothing changed, for the victim or the attacker.
import { expect } from 'bun:test'
import fc from 'fast-check'
import type { List } from '../../src/lists/model'
import type { Task } from '../../src/tasks/model'
import type { User } from '../support'
import { type ListBody, updateListBodyArb } from './generators'
import { type Model, pickId, USERS, type UserModel } from './model'
import { base, expectError, expectRefusal, holder, label, type Real, Step, show } from './steps'
import { describeWrite, sendWrite, type Write, writeArb } from './task-commands'

// COMPLETIONS and OCCURRENCES: GET {id}/completions and {id}/occurrences, a recurring task's reads.
type TaskVerb = 'GET' | 'DELETE' | 'MOVE' | 'COMPLETIONS' | 'OCCURRENCES' | Write
type ListVerb = 'GET' | 'DELETE' | 'MOVE' | { method: 'PATCH' | 'PUT'; body: ListBody }
export type Target = { kind: 'tasks'; verb: TaskVerb } | { kind: 'lists'; verb: ListVerb }

const taskVerbArb: fc.Arbitrary<TaskVerb> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom<TaskVerb>('GET', 'DELETE', 'MOVE') },
  { weight: 1, arbitrary: fc.constantFrom<TaskVerb>('COMPLETIONS', 'OCCURRENCES') },
  { weight: 2, arbitrary: writeArb },
)
const listVerbArb: fc.Arbitrary<ListVerb> = fc.oneof(
  fc.constantFrom<ListVerb>('GET', 'DELETE', 'MOVE'),
  fc.record({ method: fc.constantFrom('PATCH' as const, 'PUT' as const), body: updateListBodyArb }),
)
export const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tasks' as const), verb: taskVerbArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('lists' as const), verb: listVerbArb }) },
)

function describeTarget(target: Target): string {
  const { verb } = target
  if (verb === 'COMPLETIONS' || verb === 'OCCURRENCES') return `GET {id}/${verb.toLowerCase()}`
  if (typeof verb === 'string') return verb === 'MOVE' ? 'POST {id}/move' : `${verb} {id}`
  return target.kind === 'tasks' ? describeWrite(verb as Write) : `${(verb as { method: string }).method} {id} ${show(verb)}`
}

/**
 * Sends the verb to `path` (a task or list, someone else's or deleted). Ids in
 * the body are the sender's own where there are any, so that only the path is wrong.
 */
function sendTo(sender: UserModel, user: User, path: string, target: Target, headers: Record<string, string>) {
  const { verb } = target
  const ownList = sender.listOrder[0]
  if (verb === 'GET' || verb === 'DELETE') return user.call(verb, path, { headers })
  if (verb === 'COMPLETIONS' || verb === 'OCCURRENCES') return user.call('GET', `${path}/${verb.toLowerCase()}`, { headers })
  if (verb === 'MOVE') {
    const body = target.kind === 'tasks' ? { parent_id: null } : { after_id: ownList ?? 1 }
    return user.call('POST', `${path}/move`, { body, headers })
  }
  if (target.kind === 'tasks') {
    const write = verb as Write
    return sendWrite(user, path, write, headers, write.kind === 'update' && write.list !== undefined ? ownList : undefined)
  }
  const { method, body } = verb as Exclude<ListVerb, string>
  return user.call(method, path, { body, headers })
}

/** What of the victim's a reply must not show: the task's title or the list's name, as JSON. */
const secretOf = (victim: UserModel, kind: 'tasks' | 'lists', id: number) =>
  show(kind === 'tasks' ? victim.tasks.get(id)!.title : victim.lists.get(id)!.name)

type Route = 'plain' | 'alias-own' | 'alias-victim'

/**
 * The attacker aims a verb at the victim's task or list: by the plain route,
 * by the alias with the attacker's own id, or by the alias naming the victim
 * (which the token does not match). Always 403.
 */
export class Attack extends Step {
  constructor(
    readonly attacker: number,
    readonly victimOffset: number,
    readonly pick: number,
    readonly target: Target,
    readonly route: Route,
    readonly ifMatch: 'none' | 'victim-etag' | '*',
  ) {
    super()
  }
  preferred = () => (this.attacker + 1 + this.victimOffset) % USERS
  victim = (model: Readonly<Model>) => holder(model, this.preferred(), this.target.kind, this.attacker)
  check = (model: Readonly<Model>) => this.victim(model) !== undefined
  toString = () =>
    `${label(this.attacker)} attacks holder(${label(this.preferred())})'s ${this.target.kind}[${this.pick} mod n]: ${describeTarget(this.target)} via ${this.route}${this.ifMatch === 'none' ? '' : `, If-Match ${this.ifMatch}`}`
  async step(model: Model, real: Real) {
    const victimIndex = this.victim(model)!
    const victim = model.users[victimIndex]!
    const { kind } = this.target
    const owner = this.route === 'plain' ? undefined : this.route === 'alias-own' ? this.attacker : victimIndex
    const prefix = owner === undefined ? `/api/${kind}` : `/api/${real.users[owner]!.id}/${kind}`
    const id = pickId(victim[kind].keys(), this.pick)
    const etags = kind === 'tasks' ? victim.etags : victim.listEtags
    const headers: Record<string, string> = this.ifMatch === 'none' ? {} : { 'if-match': this.ifMatch === '*' ? '*' : etags.get(id)! }
    const reply = await sendTo(model.users[this.attacker]!, real.users[this.attacker]!, `${prefix}/${id}`, this.target, headers)
    expectError(reply, 403, 'forbidden')
    expect(reply.text).not.toContain(secretOf(victim, kind, id))
    return `${label(this.attacker)} attacks ${label(victimIndex)}'s ${kind} ${id}: ${describeTarget(this.target)} via ${this.route} → 403`
  }
}

export type CollectionRequest = `${'GET' | 'POST'} ${'tasks' | 'lists' | 'webhooks'}`

const PLANTED = {
  tasks: { title: 'planted' },
  lists: { name: 'planted' },
  webhooks: { url: 'http://127.0.0.1:9/planted', events: ['change'] },
}

/** The attacker reads or adds to the victim's collections through the alias naming the victim: 403, nothing made. */
export class CollectionAttack extends Step {
  constructor(
    readonly attacker: number,
    readonly victimOffset: number,
    readonly request: CollectionRequest,
  ) {
    super()
  }
  victim = () => (this.attacker + 1 + this.victimOffset) % USERS
  check = () => true
  toString = () => `${label(this.attacker)} attacks: ${this.request.replace(' ', ` /api/{${label(this.victim())}}/`)}`
  async step(_: Model, real: Real) {
    const [method, kind] = this.request.split(' ') as ['GET' | 'POST', 'tasks' | 'lists' | 'webhooks']
    const path = `/api/${real.users[this.victim()]!.id}/${kind}`
    const body = method === 'GET' ? undefined : PLANTED[kind]
    const reply = await real.users[this.attacker]!.call(method, method === 'GET' ? `${path}?limit=1000` : path, { body })
    expectError(reply, 403, 'forbidden')
    return `${this.toString()} → 403`
  }
}

/** Where an id that is not the caller's goes: a body field or a filter of a request on the caller's own things. */
export type Reference =
  | { route: 'create task'; field: 'list_id' | 'parent_id' }
  | { route: 'update task'; method: 'PATCH' | 'PUT'; field: 'list_id' }
  | { route: 'move task'; field: 'list_id' | 'parent_id' | 'after_id' | 'before_id' }
  | { route: 'move list'; field: 'after_id' | 'before_id' }
  | { route: 'query tasks'; field: 'list_id' | 'parent_id' }

/** The kind of id the field holds. */
const kindOf = (reference: Reference) => (reference.field === 'list_id' || reference.route === 'move list' ? 'lists' : 'tasks')

/** The caller's own task or list the request goes to, if the route needs one (never the default list, which cannot move). */
function ownTarget(mine: UserModel, reference: Reference, pick: number): number | undefined {
  if (reference.route === 'update task' || reference.route === 'move task')
    return mine.tasks.size ? pickId(mine.tasks.keys(), pick) : undefined
  const movable = mine.listOrder.filter((id) => !mine.lists.get(id)!.is_default)
  return movable.length ? pickId(movable, pick) : undefined
}

/**
 * The attacker names another user's list or task (or one deleted earlier, by
 * anyone) in a body or query of a request on their own things: 422 naming
 * the field, never 403, whoever owns the id.
 */
export class ReferenceAttack extends Step {
  constructor(
    readonly attacker: number,
    readonly victimOffset: number,
    readonly pick: number,
    readonly reference: Reference,
    readonly source: 'victim' | 'deleted',
    readonly via: 'plain' | 'alias',
  ) {
    super()
  }
  preferred = () => (this.attacker + 1 + this.victimOffset) % USERS
  victim = (model: Readonly<Model>) => holder(model, this.preferred(), kindOf(this.reference), this.attacker)
  needsOwn = () => !['create task', 'query tasks'].includes(this.reference.route)
  check = (model: Readonly<Model>) =>
    (!this.needsOwn() || ownTarget(model.users[this.attacker]!, this.reference, this.pick) !== undefined) &&
    (this.source === 'victim'
      ? this.victim(model) !== undefined
      : (kindOf(this.reference) === 'tasks' ? model.gone : model.goneLists).length > 0)
  toString = () =>
    `${label(this.attacker)} ${this.reference.route} with ${this.reference.field} = ${this.source === 'victim' ? `holder(${label(this.preferred())})'s` : 'a deleted'} ${kindOf(this.reference)}[${this.pick} mod n] via ${this.via}`
  async step(model: Model, real: Real) {
    const { reference } = this
    const kind = kindOf(reference)
    const victimIndex = this.source === 'victim' ? this.victim(model)! : undefined
    const victim = victimIndex === undefined ? undefined : model.users[victimIndex]!
    const foreign = pickId(victim ? victim[kind].keys() : kind === 'tasks' ? model.gone : model.goneLists, this.pick)
    const own = ownTarget(model.users[this.attacker]!, reference, this.pick)
    const user = real.users[this.attacker]!
    const tasks = base(real, this.attacker, this.via)
    const body = { [reference.field]: foreign }
    let reply: Awaited<ReturnType<User['call']>>
    if (reference.route === 'create task') reply = await user.call<Task>('POST', tasks, { body: { title: 'planted', ...body } })
    else if (reference.route === 'update task') reply = await user.call<Task>(reference.method, `${tasks}/${own}`, { body })
    else if (reference.route === 'move task') reply = await user.call<Task>('POST', `${tasks}/${own}/move`, { body })
    else if (reference.route === 'move list')
      reply = await user.call<List>('POST', `${base(real, this.attacker, this.via, 'lists')}/${own}/move`, { body })
    else reply = await user.call<Task[]>('GET', `${tasks}?${reference.field}=${foreign}`)
    expectRefusal(reply, { status: 422, field: reference.field })
    if (victim) expect(reply.text).not.toContain(secretOf(victim, kind, foreign))
    const whose = victimIndex === undefined ? 'deleted' : `${label(victimIndex)}'s`
    return `${label(this.attacker)} ${reference.route}${own === undefined ? '' : ` ${own}`} with ${reference.field} = ${whose} ${foreign} → 422`
  }
}

/** Any user, any verb, on a task or list deleted earlier in the run: 404 for owner and stranger alike. */
export class OnDeleted extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly target: Target,
    readonly via: 'plain' | 'alias',
  ) {
    super()
  }
  gone = (model: Readonly<Model>) => (this.target.kind === 'tasks' ? model.gone : model.goneLists)
  check = (model: Readonly<Model>) => this.gone(model).length > 0
  toString = () => `${label(this.actor)} ${describeTarget(this.target)} on deleted ${this.target.kind}[${this.pick} mod n] via ${this.via}`
  async step(model: Model, real: Real) {
    const id = pickId(this.gone(model), this.pick)
    const path = `${base(real, this.actor, this.via, this.target.kind)}/${id}`
    const reply = await sendTo(model.users[this.actor]!, real.users[this.actor]!, path, this.target, {})
    expectError(reply, 404, this.target.kind === 'tasks' ? 'task_not_found' : 'list_not_found')
    return `${label(this.actor)} ${describeTarget(this.target)} on deleted ${this.target.kind} ${id} via ${this.via} → 404`
  }
}

export const referenceArb: fc.Arbitrary<Reference> = fc.oneof(
  fc.record({ route: fc.constant('create task' as const), field: fc.constantFrom('list_id' as const, 'parent_id' as const) }),
  fc.record({
    route: fc.constant('update task' as const),
    method: fc.constantFrom('PATCH' as const, 'PUT' as const),
    field: fc.constant('list_id' as const),
  }),
  fc.record({
    route: fc.constant('move task' as const),
    field: fc.constantFrom('list_id' as const, 'parent_id' as const, 'after_id' as const, 'before_id' as const),
  }),
  fc.record({ route: fc.constant('move list' as const), field: fc.constantFrom('after_id' as const, 'before_id' as const) }),
  fc.record({ route: fc.constant('query tasks' as const), field: fc.constantFrom('list_id' as const, 'parent_id' as const) }),
)
