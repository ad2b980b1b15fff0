// `change` events: every webhook that receives them keeps a cursor into its
// user's change feed (src/sync/feed.ts), and the worker turns what lies
// after it into deliveries. Writes of lists and tasks do nothing more than
// they did: the feed they already keep is read afterwards, as live streams
// read it, so write throughput pays nothing for webhooks.
//
// A webhook behind its feed is claimed by one worker (a token and a lease,
// taken with FOR UPDATE SKIP LOCKED); the worker reads the feed after the
// cursor outside any transaction, then inserts the deliveries and moves the
// cursor in one transaction that holds only if the claim is still its own.
// A worker that dies lets the lease lapse and another goes on from the cursor.
import { and, eq, isNull, lte, or, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { guarded } from '../db/guard'
import { transaction } from '../db/operations'
import { taskQuotas, webhooks } from '../db/schema'
import type { Cursor } from '../sync/cursor'
import { CursorExpired } from '../sync/errors'
import { feedPosition } from '../sync/feed'
import { readFeed } from '../sync/queries'
import { deliveriesFor, payloadOf } from './queries'

// Changes read (and deliveries made) per transaction.
const PAGE = 100
// Webhooks claimed by one statement: each is caught up in turn, well within its lease.
const CLAIMED_AT_ONCE = 10

// An enabled webhook receiving `change` events (the partial index webhooks_change_idx).
const receivesChanges = and(isNull(webhooks.disabledAt), sql`'change' = any(${webhooks.events})`)

type Claimed = { userId: string; id: number; cursor: Cursor }

/**
 * Claims up to `limit` enabled change webhooks whose user's feed has moved
 * past their cursor (of these users only, when given), until `until`.
 */
async function claimBehind(db: Database, token: string, now: Date, until: Date, limit: number, users?: string[]): Promise<Claimed[]> {
  const behind = db.$with('behind').as(
    db
      .select({ userId: webhooks.userId, id: webhooks.id })
      .from(webhooks)
      .innerJoin(taskQuotas, eq(taskQuotas.userId, webhooks.userId))
      .where(
        and(
          receivesChanges,
          // A cursor inside a position (a page that ended within one large write) is behind too.
          sql`(${taskQuotas.changePosition} > ${webhooks.feedPosition} or ${webhooks.feedKind} <> 'end')`,
          or(isNull(webhooks.feedClaimUntil), lte(webhooks.feedClaimUntil, now)),
          users ? sql`${webhooks.userId} = any(${sql.param(users)}::text[])` : undefined,
        ),
      )
      .limit(limit)
      .for('update', { of: webhooks, skipLocked: true }),
  )
  const claimed = await guarded(db, () =>
    db
      .with(behind)
      .update(webhooks)
      .set({ feedClaim: token, feedClaimUntil: until })
      .from(behind)
      .where(and(eq(webhooks.userId, behind.userId), eq(webhooks.id, behind.id)))
      .returning({
        userId: webhooks.userId,
        id: webhooks.id,
        floor: webhooks.feedFloor,
        position: webhooks.feedPosition,
        kind: webhooks.feedKind,
        feedId: webhooks.feedId,
      }),
  )
  return claimed.map(({ userId, id, floor, position, kind, feedId }) => ({ userId, id, cursor: { floor, position, kind, id: feedId } }))
}

/**
 * Turns one page of the feed after the webhook's cursor into deliveries and
 * moves the cursor, if the claim is still ours; `release` ends the claim.
 * Answers whether the claim held.
 */
async function advanceCursor(
  db: Database,
  webhook: Claimed,
  token: string,
  changes: string[],
  to: Cursor,
  now: Date,
  release: boolean,
  until: Date,
) {
  return transaction(db, async (tx) => {
    const [held] = await tx
      .update(webhooks)
      .set({
        feedFloor: to.floor,
        feedPosition: to.position,
        feedKind: to.kind,
        feedId: to.id,
        feedClaim: release ? null : token,
        feedClaimUntil: release ? null : until,
      })
      .where(and(eq(webhooks.userId, webhook.userId), eq(webhooks.id, webhook.id), eq(webhooks.feedClaim, token)))
      .returning({ id: webhooks.id })
    if (held && changes.length) await deliveriesFor(tx, webhook.userId, 'change', changes, now, webhook.id)
    return held !== undefined
  })
}

/** Delivers the webhook's feed from its cursor to the feed's present position. Answers the deliveries made. */
async function catchUpWebhook(db: Database, webhook: Claimed, token: string, now: Date, until: Date): Promise<number> {
  let cursor = webhook.cursor
  let made = 0
  for (;;) {
    let page: Awaited<ReturnType<typeof readFeed>>
    try {
      page = await readFeed(db, webhook.userId, cursor, PAGE)
    } catch (error) {
      if (!(error instanceof CursorExpired)) throw error
      // Left behind for longer than deletions are kept (a webhook disabled meanwhile): it goes on from now.
      const position = await feedPosition(db, webhook.userId)
      page = { changes: [], at: [], cursor: { floor: position, position, kind: 'end', id: 0 }, hasMore: false }
    }
    const payloads = page.changes.map((change) => payloadOf('change', change, now))
    if (!(await advanceCursor(db, webhook, token, payloads, page.cursor, now, !page.hasMore, until))) return made
    made += payloads.length
    cursor = page.cursor
    if (!page.hasMore) return made
  }
}

/**
 * Makes the change deliveries of every webhook behind its feed (of these
 * users only, when given). A write that commits while another worker holds
 * the claim is not lost: that worker reads the feed again after releasing
 * it, and goes on if it moved. Answers the deliveries made.
 */
export async function deliverChanges(db: Database, clock: () => Date, leaseMs: number, users?: string[]): Promise<number> {
  let made = 0
  for (let round = 0; round < 100; round++) {
    // Each round on the clock as it reads then: its claims lease from now, not from when the first began.
    const now = clock()
    const until = new Date(now.getTime() + leaseMs)
    const token = crypto.randomUUID()
    const claimed = await claimBehind(db, token, now, until, CLAIMED_AT_ONCE, users)
    if (!claimed.length) return made
    // Claims released: what committed meanwhile is claimed by the next round.
    for (const webhook of claimed) made += await catchUpWebhook(db, webhook, token, now, until)
  }
  return made
}

/** The users with an enabled `change` webhook (read by the partial index the sweep uses). */
export async function usersWithChangeWebhooks(db: Database): Promise<string[]> {
  const found = await guarded(db, () => db.selectDistinct({ userId: webhooks.userId }).from(webhooks).where(receivesChanges))
  return found.map(({ userId }) => userId)
}

/** Whether the user has an enabled `change` webhook. */
export async function hasChangeWebhooks(db: Database, userId: string): Promise<boolean> {
  const [found] = await guarded(db, () =>
    db
      .select({ id: webhooks.id })
      .from(webhooks)
      .where(and(eq(webhooks.userId, userId), receivesChanges))
      .limit(1),
  )
  return found !== undefined
}
