import { eq, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { sqlStateOf } from '../db/errors'
import { prepared, transaction } from '../db/operations'
import { eventTickets, idempotencyKeys, lists, reminderNotices, taskQuotas, tasks, userSettings, users, webhooks } from '../db/schema'
import { advance, bury } from '../sync/feed'
import { EmailTaken } from './errors'

const iso = sql<string>`to_char(${users.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

// The public face of an account: never the password hash.
const accountColumns = { id: users.id, email: users.email, name: users.name, created_at: iso }

export type Account = { id: string; email: string; name: string | null; created_at: string }

const placeholder = (name: string) => sql.placeholder(name)

export async function createAccount(db: Database, input: { email: string; name: string | null; passwordHash: string }): Promise<Account> {
  const insert = prepared(db, 'accounts_create', (name) =>
    db
      .insert(users)
      .values({ id: placeholder('id'), email: placeholder('email'), name: placeholder('name'), passwordHash: placeholder('passwordHash') })
      .returning(accountColumns)
      .prepare(name),
  )
  try {
    const [account] = await insert.execute({ ...input, id: crypto.randomUUID() })
    return account!
  } catch (error) {
    // The unique index on lower(email) settles concurrent signups of one address.
    if (sqlStateOf(error) === '23505') throw new EmailTaken()
    throw error
  }
}

export async function findAccountByEmail(db: Database, email: string): Promise<(Account & { passwordHash: string }) | undefined> {
  const find = prepared(db, 'accounts_by_email', (name) =>
    db
      .select({ ...accountColumns, passwordHash: users.passwordHash })
      .from(users)
      .where(eq(sql`lower(${users.email})`, placeholder('email')))
      .prepare(name),
  )
  const [account] = await find.execute({ email: email.toLowerCase() })
  return account
}

export async function getAccount(db: Database, id: string): Promise<Account | undefined> {
  const get = prepared(db, 'accounts_get', (name) =>
    db
      .select(accountColumns)
      .from(users)
      .where(eq(users.id, placeholder('id')))
      .prepare(name),
  )
  const [account] = await get.execute({ id })
  return account
}

/** The account (if any), the settings, webhooks and every list and task of this user (their reminders too), in one transaction. */
export async function deleteAccount(db: Database, userId: string): Promise<void> {
  await transaction(db, async (tx) => {
    // The user's row first: a create in flight holds its lock, so this waits
    // for that task to exist, and the next delete takes it too. The row
    // stays, emptied, with the feed's position: the user's other devices
    // sync the deletions, and a cursor never meets a feed started again.
    await advance(tx, userId)
    await tx.update(taskQuotas).set({ taskCount: 0, listCount: 0 }).where(eq(taskQuotas.userId, userId))
    const goneTasks = tx.$with('gone').as(tx.delete(tasks).where(eq(tasks.userId, userId)).returning({ id: tasks.id }))
    await bury(tx, userId, 'task', goneTasks)
    const goneLists = tx.$with('gone').as(tx.delete(lists).where(eq(lists.userId, userId)).returning({ id: lists.id }))
    await bury(tx, userId, 'list', goneLists)
    // Kept answers hold task data too; tickets would open a stream on nothing.
    await tx.delete(idempotencyKeys).where(eq(idempotencyKeys.userId, userId))
    await tx.delete(eventTickets).where(eq(eventTickets.userId, userId))
    // Fired reminders name tasks (their firings went with the tasks). The notice counter stays, as the feed's position does.
    await tx.delete(reminderNotices).where(eq(reminderNotices.userId, userId))
    await tx.delete(userSettings).where(eq(userSettings.userId, userId))
    // Their deliveries go with them (foreign key cascade).
    await tx.delete(webhooks).where(eq(webhooks.userId, userId))
    await tx.delete(users).where(eq(users.id, userId))
  })
}
