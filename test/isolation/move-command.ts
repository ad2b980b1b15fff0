// POST /api/tasks/{id}/move: the task (its subtasks with it) to another list,
// under another task or to the top level, and among its siblings.
import { expect } from 'bun:test'
import type { Task } from '../../src/tasks/model'
import type { MoveSpec, TaskRef } from './generators'
import {
  ancestors,
  descendants,
  describeTaskPick,
  isRefusal,
  type Model,
  type MoveBody,
  moveDestination,
  moveOutcome,
  pickId,
  pickTask,
  place,
  siblings,
  type TaskPick,
  type UserModel,
} from './model'
import {
  base,
  describeIfMatch,
  describeRefusal,
  expectRefusal,
  expectTouched,
  expectWrite,
  holder,
  type IfMatch,
  ifMatchHeader,
  label,
  type Real,
  Step,
  show,
  store,
  type Via,
} from './steps'

/** The body a move spec asks for, resolved against the user's tasks and lists now. */
function moveBody(mine: UserModel, id: number, spec: MoveSpec): MoveBody {
  const task = mine.tasks.get(id)!
  const body: MoveBody = {}
  if (spec.list) body.list_id = spec.list.kind === 'current' ? task.list_id : pickId(mine.lists.keys(), spec.list.pick)
  const destination = () => {
    const slot = moveDestination(mine, id, body)
    return isRefusal(slot) ? [] : siblings(mine, slot.listId, slot.parentId, id)
  }
  const depth = (other: number) => ancestors(mine, other).length
  const resolve = (ref: TaskRef): number => {
    const below = descendants(mine, id)
    const group = destination()
    if (ref.kind === 'self') return id
    if (ref.kind === 'below' && below.length) return pickId(below, ref.pick)
    if (ref.kind === 'sibling' && group.length) return pickId(group, ref.pick)
    if (ref.kind === 'following' && group.length) return group[Math.min(group.indexOf(body.after_id!) + 1 + ref.skip, group.length - 1)]!
    const others = [...mine.tasks.keys()].filter((other) => other !== id && !below.includes(other))
    if (others.length === 0) return id
    if (ref.kind === 'deepest') return others.reduce((deepest, other) => (depth(other) > depth(deepest) ? other : deepest))
    return pickId(others, 'pick' in ref ? ref.pick : ref.skip)
  }
  if (spec.parent) body.parent_id = spec.parent.kind === 'null' ? null : resolve(spec.parent)
  // A sibling where there is none: no anchor, so the task goes last.
  const anchored = (ref: TaskRef) => !['sibling', 'following'].includes(ref.kind) || destination().length > 0
  if (spec.after && anchored(spec.after)) body.after_id = resolve(spec.after)
  if (spec.before && anchored(spec.before)) body.before_id = resolve(spec.before)
  // Nothing left: the same parent, which moves the task last among its siblings.
  return Object.keys(body).length ? body : { parent_id: task.parent_id }
}

/** POST /api/tasks/{id}/move: to another list or parent, or among its siblings; refused moves change nothing. */
export class Move extends Step {
  constructor(
    readonly actor: number,
    readonly pick: TaskPick,
    readonly spec: MoveSpec,
    readonly via: Via,
    readonly ifMatch: IfMatch,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'tasks') !== undefined
  toString = () =>
    `holder(${label(this.actor)}) move own ${describeTaskPick(this.pick)} ${show(this.spec)} via ${this.via}${describeIfMatch(this.ifMatch)}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'tasks')!
    const mine = model.users[actor]!
    const user = real.users[actor]!
    const id = pickTask(mine, this.pick)
    const before = mine.tasks.get(id)!
    const body = moveBody(mine, id, this.spec)
    const outcome = moveOutcome(mine, id, body)
    const headers = ifMatchHeader(mine.etags, id, this.ifMatch)
    const reply = await user.call<Task>('POST', `${base(real, actor, this.via)}/${id}/move`, { body, headers })
    const done = `${label(actor)} move own task ${id} ${show(body)}`
    if (isRefusal(outcome)) {
      expectRefusal(reply, outcome)
      return `${done} → ${describeRefusal(outcome)}`
    }
    const { slot } = outcome
    // Placed again even where it already was: a move always makes a new version.
    const after = { ...before, list_id: slot.listId, parent_id: slot.parentId, position: expect.any(String) }
    expectWrite(reply, 'task', before, mine.etags.get(id)!, after, true)
    store(mine, reply)
    place(mine, id, outcome)
    const below = descendants(mine, id)
    if (slot.listId !== before.list_id) {
      for (const task of below) mine.tasks.get(task)!.list_id = slot.listId
      await expectTouched(mine, user, below)
    }
    return `${done} → 200 to list ${slot.listId}, parent ${slot.parentId}${below.length ? `, with ${below.join(', ')}` : ''}`
  }
}
