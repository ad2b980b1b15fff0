// A sync client as the contract describes one (CONTRACT.md, Sync): a copy of
// the user's lists and tasks, keyed by kind and id, kept by applying the pages
// of GET /api/sync in order; and the server's state as the REST API answers it,
// which a client that has caught up must equal. Shared by sync.test.ts and
// sync.property.test.ts.
import { expect } from 'bun:test'
import type { User } from './support'

export type Change = { type: 'list' | 'task'; op: 'upsert' | 'delete'; id: number; data?: Record<string, unknown> }
export type SyncAnswer = { changes: Change[]; cursor: string; has_more: boolean }

/** How a replica keys a list or task. */
export const keyOf = (type: Change['type'], id: number) => `${type}:${id}`

export async function sync(user: User, cursor?: string, limit?: number): Promise<SyncAnswer> {
  const query = new URLSearchParams()
  if (cursor !== undefined) query.set('cursor', cursor)
  if (limit !== undefined) query.set('limit', String(limit))
  const reply = await user.call('GET', `/api/sync?${query}`)
  expect({ status: reply.status, body: reply.status === 200 ? 'an answer' : reply.body }).toEqual({ status: 200, body: 'an answer' })
  return reply.body
}

/** A client's copy of the user's lists and tasks, by kind and id, kept by applying changes. */
export class Replica {
  readonly items = new Map<string, Record<string, unknown>>()
  cursor: string | undefined

  apply(changes: Change[]): void {
    for (const change of changes) {
      const key = keyOf(change.type, change.id)
      if (change.op === 'delete') this.items.delete(key)
      else this.items.set(key, change.data!)
    }
  }

  /** Syncs from its cursor until has_more is false, `limit` changes a page. */
  async catchUp(user: User, limit?: number, between?: () => Promise<void>): Promise<number> {
    let pages = 0
    for (;;) {
      const answer = await sync(user, this.cursor, limit)
      this.apply(answer.changes)
      this.cursor = answer.cursor
      pages++
      if (!answer.has_more) return pages
      await between?.()
    }
  }
}

/** The server's state as the REST API answers it, keyed as the replica keys it. */
export async function serverState(user: User): Promise<Map<string, Record<string, unknown>>> {
  const lists = await user.call('GET', '/api/lists')
  const tasks = await user.call('GET', '/api/tasks?limit=1000')
  expect([lists.status, tasks.status]).toEqual([200, 200])
  return new Map([
    ...lists.body.map((list: { id: number }) => [keyOf('list', list.id), list] as const),
    ...tasks.body.map((task: { id: number }) => [keyOf('task', task.id), task] as const),
  ])
}

/** The replica equals the server's state (sorted by key, so a failure's diff lines up). */
export async function expectSameAsServer(user: User, replica: Replica): Promise<void> {
  const sorted = (items: Map<string, Record<string, unknown>>) => Object.fromEntries([...items].sort(([a], [b]) => a.localeCompare(b)))
  expect(sorted(replica.items)).toEqual(sorted(await serverState(user)))
}

export async function expectConverged(user: User, replica: Replica): Promise<void> {
  await replica.catchUp(user)
  await expectSameAsServer(user, replica)
}
