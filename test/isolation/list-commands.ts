// The owner's list commands: read them all (which makes the default list on
// first need), create, rename or recolour, move among the others, delete
// (with the list's tasks), read one.
import { expect } from 'bun:test'
import type { List } from '../../src/lists/model'
import type { ListBody } from './generators'
import { currentList, expectedLists, forget, isRefusal, listEtagHolds, listMoveOutcome, type Model, pickId, type UserModel } from './model'
import {
  base,
  describeIfMatch,
  describeRefusal,
  expectError,
  expectRefusal,
  expectShape,
  expectWrite,
  holder,
  type IfMatch,
  ISO,
  ifMatchHeader,
  label,
  type Real,
  Step,
  show,
  storeList,
  type Via,
} from './steps'

/** The list a move or delete names: one the user made, unless it asks for the default list or there is none. */
function chooseList(mine: UserModel, pick: number | 'default'): number {
  const made = mine.listOrder.filter((id) => !mine.lists.get(id)!.is_default)
  return pick === 'default' || made.length === 0 ? mine.defaultId! : pickId(made, pick)
}

/** If-Match with the list's last ETag, which its open_count changed since: 412, and nothing changes. */
const sendsStaleTag = (mine: UserModel, id: number, ifMatch: IfMatch) => ifMatch === 'current' && !listEtagHolds(mine, id)

/** GET /api/lists. The first time for a user, it makes the default list. */
export class ReadLists extends Step {
  constructor(
    readonly actor: number,
    readonly via: Via,
  ) {
    super()
  }
  check = () => true
  toString = () => `${label(this.actor)} GET lists via ${this.via}`
  async step(model: Model, real: Real) {
    const mine = model.users[this.actor]!
    const reply = await real.users[this.actor]!.call<List[]>('GET', base(real, this.actor, this.via, 'lists'))
    expect(reply.status).toBe(200)
    if (mine.defaultMade) expect(reply.body).toEqual(expectedLists(mine))
    // The check after this step reads the new default list.
    else mine.defaultMade = true
    return `${this.toString()} → ${reply.body.map((list) => list.id).join(', ')}`
  }
}

export class CreateList extends Step {
  constructor(
    readonly actor: number,
    readonly body: { name: string; color?: string | null },
    readonly via: Via,
  ) {
    super()
  }
  check = () => true
  toString = () => `${label(this.actor)} POST list ${show(this.body)} via ${this.via}`
  async step(model: Model, real: Real) {
    const mine = model.users[this.actor]!
    const path = base(real, this.actor, this.via, 'lists')
    const reply = await real.users[this.actor]!.call<List>('POST', path, { body: this.body })
    expect({ status: reply.status, body: reply.body }).toEqual({
      status: 201,
      body: {
        id: expect.any(Number),
        name: this.body.name.trim(),
        color: this.body.color?.toLowerCase() ?? null,
        is_default: false,
        position: expect.any(String),
        open_count: 0,
        created_at: expect.stringMatching(ISO),
        updated_at: reply.body.created_at,
      },
    })
    expectShape(reply.body, 'list')
    const id = reply.body.id
    const known = model.users.some((user) => user.lists.has(id)) || model.goneLists.includes(id)
    expect({ id, reused: known }).toEqual({ id, reused: false })
    expect(reply.headers.get('location')).toBe(`${path}/${id}`)
    expect(reply.headers.get('etag')).not.toBeNull()
    // The default list is made first, when a user without it creates a list.
    mine.defaultMade = true
    storeList(mine, reply)
    mine.listOrder.push(id)
    return `${this.toString()} → 201 id ${id}`
  }
}

export class UpdateList extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly method: 'PATCH' | 'PUT',
    readonly body: ListBody,
    readonly via: Via,
    readonly ifMatch: IfMatch,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'lists') !== undefined
  toString = () =>
    `holder(${label(this.actor)}) ${this.method} own list[${this.pick} mod n] ${show(this.body)} via ${this.via}${describeIfMatch(this.ifMatch)}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'lists')!
    const mine = model.users[actor]!
    const id = pickId(mine.lists.keys(), this.pick)
    const before = currentList(mine, id)
    const headers = ifMatchHeader(mine.listEtags, id, this.ifMatch)
    const reply = await real.users[actor]!.call<List>(this.method, `${base(real, actor, this.via, 'lists')}/${id}`, {
      body: this.body,
      headers,
    })
    const done = `${label(actor)} ${this.method} own list ${id} ${show(this.body)}`
    if (sendsStaleTag(mine, id, this.ifMatch)) {
      expectError(reply, 412, 'precondition_failed')
      return `${done} → 412 (its ETag moved with open_count)`
    }
    const after = { ...before }
    if (this.body.name !== undefined) after.name = this.body.name.trim()
    if (this.body.color !== undefined) after.color = this.body.color?.toLowerCase() ?? null
    const changed = show(before) !== show(after)
    const { updated_at: _, ...expected } = after
    expectWrite(reply, 'list', before, mine.listEtags.get(id)!, expected, changed, listEtagHolds(mine, id))
    storeList(mine, reply)
    return `${done} → 200${changed ? '' : ' (no change)'}`
  }
}

export class MoveList extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number | 'default',
    readonly side: 'after_id' | 'before_id',
    readonly anchor: number | 'self',
    readonly via: Via,
    readonly ifMatch: IfMatch,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'lists') !== undefined
  toString = () =>
    `holder(${label(this.actor)}) move own list[${this.pick}] ${this.side} ${this.anchor === 'self' ? 'itself' : `list[${this.anchor} mod n]`} via ${this.via}${describeIfMatch(this.ifMatch)}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'lists')!
    const mine = model.users[actor]!
    const id = chooseList(mine, this.pick)
    const anchor = this.anchor === 'self' ? id : pickId(mine.lists.keys(), this.anchor)
    const outcome = listMoveOutcome(mine, id, this.side, anchor)
    const headers = ifMatchHeader(mine.listEtags, id, this.ifMatch)
    const path = `${base(real, actor, this.via, 'lists')}/${id}/move`
    const reply = await real.users[actor]!.call<List>('POST', path, { body: { [this.side]: anchor }, headers })
    const done = `${label(actor)} move own list ${id} ${this.side} ${anchor}`
    if (sendsStaleTag(mine, id, this.ifMatch)) {
      expectError(reply, 412, 'precondition_failed')
      return `${done} → 412 (its ETag moved with open_count)`
    }
    if (isRefusal(outcome)) {
      expectRefusal(reply, outcome)
      return `${done} → ${describeRefusal(outcome)}`
    }
    // Already there: nothing changes, not even the ETag.
    const moved = outcome.join() !== mine.listOrder.join()
    const before = currentList(mine, id)
    const { updated_at: _, ...after } = { ...before, position: expect.any(String) }
    expectWrite(reply, 'list', before, mine.listEtags.get(id)!, after, moved, listEtagHolds(mine, id))
    storeList(mine, reply)
    mine.listOrder = outcome
    return `${done} → 200${moved ? '' : ' (already there)'}`
  }
}

/** DELETE a list: its tasks (subtasks included) go with it; the default list stays (409). */
export class DeleteList extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number | 'default',
    readonly via: Via,
    readonly ifMatch: IfMatch,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'lists') !== undefined
  toString = () => `holder(${label(this.actor)}) DELETE own list[${this.pick}] via ${this.via}${describeIfMatch(this.ifMatch)}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'lists')!
    const mine = model.users[actor]!
    const id = chooseList(mine, this.pick)
    const headers = ifMatchHeader(mine.listEtags, id, this.ifMatch)
    const reply = await real.users[actor]!.call('DELETE', `${base(real, actor, this.via, 'lists')}/${id}`, { headers })
    if (sendsStaleTag(mine, id, this.ifMatch)) {
      expectError(reply, 412, 'precondition_failed')
      return `${label(actor)} DELETE own list ${id} → 412 (its ETag moved with open_count)`
    }
    if (mine.lists.get(id)!.is_default) {
      expectRefusal(reply, { status: 409, code: 'default_list' })
      return `${label(actor)} DELETE own default list ${id} → 409`
    }
    expect({ status: reply.status, text: reply.text }).toEqual({ status: 204, text: '' })
    const tasks = mine.order.filter((task) => mine.tasks.get(task)!.list_id === id)
    forget(model, actor, tasks)
    mine.lists.delete(id)
    mine.listEtags.delete(id)
    mine.listOrder = mine.listOrder.filter((list) => list !== id)
    model.goneLists.push(id)
    return `${label(actor)} DELETE own list ${id} → 204, tasks gone: ${tasks.join(', ') || 'none'}`
  }
}
