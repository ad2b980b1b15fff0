// The reminder side of one live stream: it starts at the user's newest notice
// when the stream opens (reminders are live: a stream opened later, or one
// reconnecting with Last-Event-ID, is not sent those fired before; webhooks
// are the durable way to hear of every one) and, whenever woken, sends every
// notice after the last it sent, in number order.
import type { Database } from '../db/client'
import { latestNotice, type ReminderEvent, readNotices } from './notices'

// Notices read per query.
const PAGE = 100

export interface NoticeReader {
  /** Reminders may have fired: read the notices. */
  remind(): void
  /** The last notice sent, undefined until the starting point is known. */
  position(): number | undefined
}

/**
 * Reads from the user's newest notice at the time of the call on: call it
 * before the stream joins the hub, so that no notice committed after the
 * starting point can wake it before it listens.
 */
export function noticeReader(
  db: Database,
  userId: string,
  send: (event: ReminderEvent) => void,
  failed: (error: unknown) => void,
): NoticeReader {
  let after: number | undefined
  const started = latestNotice(db, userId).then((last) => {
    after = last
  })
  let reading: Promise<void> | undefined
  let again = false

  async function drain(): Promise<void> {
    await started
    do {
      again = false
      for (;;) {
        const notices = await readNotices(db, userId, after!, PAGE)
        for (const notice of notices) send(notice.data)
        if (notices.length > 0) after = notices.at(-1)!.number
        if (notices.length < PAGE) break
      }
    } while (again)
  }

  return {
    remind() {
      if (reading) {
        again = true
        return
      }
      reading = drain()
        .catch(failed)
        .finally(() => {
          reading = undefined
        })
    },
    position: () => after,
  }
}
