// A notification can be lost (a NOTIFY that failed, a listening connection
// that broke between two reconnects). Every so often one query reads the feed
// position of every user with a stream on this instance and wakes the
// streams that are behind: a lost notification costs at most that long.
import { inArray } from 'drizzle-orm'
import type { Database } from '../db/client'
import { taskQuotas } from '../db/schema'
import type { Logger } from '../http/logger'
import { latestNotices } from '../reminders/notices'
import type { Hub } from './hub'
import { HEARTBEAT_MS } from './stream'

// A statement takes at most 65,535 parameters: an instance holding streams of
// more users than that reads their positions a part at a time.
const USERS_PER_READ = 10_000

/**
 * One sweep: wakes the users whose feed moved past what their streams sent,
 * and those with reminder notices their streams have not sent; returns how many.
 * Across users, by the ids of this instance's streams (the one statement on
 * the feed that names several users).
 */
export async function catchUp(db: Database, hub: Hub): Promise<number> {
  const sent = hub.positions()
  const users = [...sent.keys()]
  let woken = 0
  for (let from = 0; from < users.length; from += USERS_PER_READ) {
    const found = await db
      .select({ userId: taskQuotas.userId, position: taskQuotas.changePosition })
      .from(taskQuotas)
      .where(inArray(taskQuotas.userId, users.slice(from, from + USERS_PER_READ)))
    for (const { userId, position } of found)
      if (position > (sent.get(userId) ?? position)) {
        hub.wake(userId)
        woken++
      }
  }
  return woken + (await catchUpNotices(db, hub))
}

/** The same for reminder notices: the streams whose user has one they have not sent read them. */
async function catchUpNotices(db: Database, hub: Hub): Promise<number> {
  const sent = hub.noticePositions()
  const users = [...sent.keys()]
  let reminded = 0
  for (let from = 0; from < users.length; from += USERS_PER_READ)
    for (const [userId, last] of await latestNotices(db, users.slice(from, from + USERS_PER_READ)))
      if (last > (sent.get(userId) ?? last)) {
        hub.remind(userId)
        reminded++
      }
  return reminded
}

/** Sweeps every `everyMs` (the heartbeat's period by default); returns a stop function. */
export function startCatchUp(db: Database, hub: Hub, logger: Logger, everyMs = HEARTBEAT_MS): () => void {
  const timer = setInterval(() => {
    catchUp(db, hub).catch((error: unknown) => logger.warn('catch-up sweep failed; retried at the next', { cause: String(error) }))
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
