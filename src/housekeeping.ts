// What expires: deletions the change feed remembers (30 days), idempotency
// keys (24 hours), event tickets (60 s), reminder notices (an hour) and webhook deliveries (7 days). Every instance sweeps now and then; sweeps of several
// instances overlap harmlessly (each deletes what is still there).
import type { Database } from './db/client'
import { purgeTickets } from './events/tickets'
import type { Logger } from './http/logger'
import { purgeKeys } from './idempotency/store'
import { purgeNotices } from './reminders/notices'
import { forgetDeletions } from './sync/purge'
import { purgeDeliveries } from './webhooks/queries'

const SWEEP_EVERY_MS = 60 * 60 * 1000

/** One sweep at `now`. */
export async function sweep(
  db: Database,
  now: Date,
): Promise<{ deletions: number; idempotencyKeys: number; tickets: number; reminderNotices: number; webhookDeliveries: number }> {
  return {
    deletions: await forgetDeletions(db, now),
    idempotencyKeys: await purgeKeys(db, now),
    tickets: await purgeTickets(db, now),
    reminderNotices: await purgeNotices(db, now),
    webhookDeliveries: await purgeDeliveries(db, now),
  }
}

/** Sweeps every hour, the first a minute after start; returns a stop function. */
export function startHousekeeping(db: Database, logger: Logger): () => void {
  const run = () =>
    sweep(db, new Date()).then(
      (swept) => logger.debug('housekeeping', swept),
      (error: unknown) => logger.warn('housekeeping failed; retried at the next sweep', { cause: String(error) }),
    )
  const first = setTimeout(run, 60_000)
  const every = setInterval(run, SWEEP_EVERY_MS)
  first.unref()
  every.unref()
  return () => {
    clearTimeout(first)
    clearInterval(every)
  }
}
