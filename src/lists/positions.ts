// Where lists sit among a user's lists: keys made by fractional-indexing,
// compared byte by byte (the column is COLLATE "C").
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { generateKeyBetween, generateNKeysBetween } from 'fractional-indexing'
import type { Database } from '../db/client'
import { type Transaction, transaction } from '../db/operations'
import { lists } from '../db/schema'
import { advance, stamp } from '../sync/feed'

/** A transaction's handle, as `transaction` passes it. */

// Repeated moves into one gap grow a key by about one character per six
// moves (each halves the gap between two base-62 keys). Past this length the
// user's lists are renumbered first, so keys stay short in practice
// however a client reorders.
export const MAX_KEY_LENGTH = 32

export type Placed = { id: number; position: string }

/** The user's lists in order, ids and positions. */
export function placedLists(tx: Transaction, userId: string): Promise<Placed[]> {
  return tx
    .select({ id: lists.id, position: lists.position })
    .from(lists)
    .where(eq(lists.userId, userId))
    .orderBy(asc(lists.position), asc(lists.id))
}

/**
 * Gives the user's lists short keys in their present order (the caller holds
 * advance). A list whose key changes changes version and updated_at, as its
 * ETag must, and is stamped in the feed. Returns the lists with their new positions.
 */
export async function renumber(tx: Transaction, userId: string, placed: Placed[]): Promise<Placed[]> {
  const keys = generateNKeysBetween(null, null, placed.length)
  const renumbered = placed.map((list, i) => ({ id: list.id, position: keys[i]! }))
  const changed = renumbered.filter((list, i) => list.position !== placed[i]!.position)
  if (changed.length === 0) return renumbered
  const ids = changed.map((list) => list.id)
  // The unique index is checked row by row, so a new key could meet an old
  // one still in place: every changed list first takes a key no
  // fractional-indexing key can equal ('~' sorts past its digits).
  await tx
    .update(lists)
    .set({ position: sql`'~' || ${lists.id}` })
    .where(and(eq(lists.userId, userId), inArray(lists.id, ids)))
  await tx.execute(sql`update ${lists} set position = renumbered.position, version = ${lists.version} + 1, updated_at = now(), change_position = ${stamp(userId)}
    from unnest(${sql.param(ids)}::bigint[], ${sql.param(changed.map((list) => list.position))}::text[]) as renumbered(id, position)
    where ${lists.userId} = ${userId} and ${lists.id} = renumbered.id`)
  return renumbered
}

/** Renumbers the user's lists in a transaction of its own. */
export function renumberLists(db: Database, userId: string): Promise<unknown> {
  return transaction(db, async (tx) => {
    await advance(tx, userId)
    return renumber(tx, userId, await placedLists(tx, userId))
  })
}

/**
 * The key that puts list `id` just after (or before) `anchor` in `placed`,
 * or undefined when it is already there.
 */
export function keyNextTo(placed: Placed[], id: number, anchor: number, side: 'after' | 'before'): string | undefined {
  const others = placed.filter((list) => list.id !== id)
  const at = others.findIndex((list) => list.id === anchor)
  const [low, high] = side === 'after' ? [others[at], others[at + 1]] : [others[at - 1], others[at]]
  const current = placed.findIndex((list) => list.id === id)
  const neighbours = [placed[current - 1]?.id, placed[current + 1]?.id]
  if (neighbours[0] === low?.id && neighbours[1] === high?.id) return undefined
  return generateKeyBetween(low?.position ?? null, high?.position ?? null)
}
