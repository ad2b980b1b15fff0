// Tickets for EventSource, which cannot send an Authorization header: a
// bearer-authenticated POST gets one, valid 60 s and good for one stream,
// on any instance (they live in the database). Only their hash is stored.
import { and, eq, gt, lt, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared } from '../db/operations'
import { eventTickets } from '../db/schema'

export const TICKET_SECONDS = 60

const hashOf = (ticket: string) => new Bun.CryptoHasher('sha256').update(ticket).digest('hex')

/** A new ticket for `userId` and when it expires. */
export async function issueTicket(db: Database, userId: string, now = new Date()): Promise<{ ticket: string; expiresAt: Date }> {
  const ticket = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const expiresAt = new Date(now.getTime() + TICKET_SECONDS * 1000)
  const issue = prepared(db, 'event_ticket_issue', (name) =>
    db
      .insert(eventTickets)
      .values({ ticketHash: sql.placeholder('hash'), userId: sql.placeholder('userId'), expiresAt: sql.placeholder('expiresAt') })
      .prepare(name),
  )
  await issue.execute({ hash: hashOf(ticket), userId, expiresAt })
  return { ticket, expiresAt }
}

/**
 * The user a ticket was issued to, using it up; undefined when it is unknown,
 * used or expired. The ticket is the key here (as a token is): this lookup
 * cannot know the user first.
 */
export async function redeemTicket(db: Database, ticket: string, now = new Date()): Promise<string | undefined> {
  const redeem = prepared(db, 'event_ticket_redeem', (name) =>
    db
      .delete(eventTickets)
      .where(
        and(eq(eventTickets.ticketHash, sql.placeholder('hash')), gt(eventTickets.expiresAt, sql`${sql.placeholder('now')}::timestamptz`)),
      )
      .returning({ userId: eventTickets.userId })
      .prepare(name),
  )
  // As text: a placeholder compared with a column reaches postgres.js unconverted, and it binds no Date.
  const [found] = await redeem.execute({ hash: hashOf(ticket), now: now.toISOString() })
  return found?.userId
}

/** Forgets expired tickets (housekeeping). */
export async function purgeTickets(db: Database, now: Date): Promise<number> {
  const purged = await db.delete(eventTickets).where(lt(eventTickets.expiresAt, now)).returning({ hash: eventTickets.ticketHash })
  return purged.length
}
