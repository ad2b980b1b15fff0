// How a change reaches streams: on this instance at once, and on the others
// through PostgreSQL LISTEN/NOTIFY. A notification names users, never data.
// It is sent after commit, coalesced per instance (one NOTIFY every few
// milliseconds names every user whose feed moved): a NOTIFY inside each
// write would serialise every notifying commit of the database.
import postgres from 'postgres'
import type { Logger } from '../http/logger'
import type { Hub } from './hub'

export const CHANNEL = 'todo_feed'
// How the listening connection shows in pg_stat_activity.
export const LISTENER_NAME = 'todo-api-listen'
const COALESCE_MS = 5
// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD = 7000

export interface Notifier {
  /** The user's feed moved (after commit). */
  changed(userId: string): void
  /** The user's account is gone: their streams end, on every instance. */
  ended(userId: string): void
  /** Reminders of the user's fired (after commit): their streams read the notices, not the feed (src/reminders). */
  reminded(userId: string): void
  close(): Promise<void>
}

// `reminded` is apart from `changed`: a reminder does not make every stream
// read the feed, nor a change make every stream read the notices.
type Kind = 'changed' | 'ended' | 'reminded'
type Message = { from: string } & Record<Kind, string[]>

/** Embedded mode: one process, so the hub is told directly. */
export function localNotifier(hub: Hub): Notifier {
  return {
    changed: (userId) => hub.wake(userId),
    ended: (userId) => hub.end(userId),
    reminded: (userId) => hub.remind(userId),
    close: async () => {},
  }
}

/**
 * PostgreSQL: LISTEN on its own connection to `url` (a direct one: a
 * transaction pooler does not carry LISTEN). postgres.js reconnects it with
 * backoff; after a reconnect every stream reads the feed, so what was
 * notified meanwhile is not lost.
 */
export async function postgresNotifier(url: string, hub: Hub, logger: Logger): Promise<Notifier> {
  const instance = crypto.randomUUID()
  const client = postgres(url, {
    max: 1,
    prepare: false,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 0,
    connection: { application_name: LISTENER_NAME },
  })
  let listening = false
  const subscription = await client.listen(
    CHANNEL,
    (payload) => {
      let message: Message
      try {
        message = JSON.parse(payload)
      } catch {
        return
      }
      if (message.from === instance) return
      for (const userId of message.changed) hub.wake(userId)
      for (const userId of message.ended) hub.end(userId)
      // An instance of the version before reminders sends no such list.
      for (const userId of message.reminded ?? []) hub.remind(userId)
    },
    () => {
      // Called on the first LISTEN and after every reconnect: a gap may lie behind.
      if (listening) {
        logger.info('listening for changes again; streams catch up from the feed')
        hub.wakeAll()
      }
      listening = true
    },
  )

  const pending: Record<Kind, Set<string>> = { changed: new Set(), ended: new Set(), reminded: new Set() }
  let timer: Timer | undefined
  async function flush() {
    timer = undefined
    const messages = batches(instance, pending)
    for (const users of Object.values(pending)) users.clear()
    for (const message of messages)
      await client
        .notify(CHANNEL, message)
        // A connection that died since the last NOTIFY fails once; postgres.js connects anew for the retry.
        .catch(() => client.notify(CHANNEL, message))
        .catch((error: unknown) => {
          // The other instances' streams catch up at their next wake, or by the catch-up sweep (catch-up.ts).
          logger.warn('could not notify other instances of a change', { cause: String(error) })
        })
  }
  const schedule = () => {
    timer ??= setTimeout(flush, COALESCE_MS)
  }
  return {
    changed(userId) {
      hub.wake(userId)
      pending.changed.add(userId)
      schedule()
    },
    ended(userId) {
      hub.end(userId)
      pending.ended.add(userId)
      schedule()
    },
    reminded(userId) {
      hub.remind(userId)
      pending.reminded.add(userId)
      schedule()
    },
    async close() {
      if (timer) {
        clearTimeout(timer)
        await flush()
      }
      await subscription.unlisten().catch(() => {})
      await client.end({ timeout: 1 })
    },
  }
}

/** Messages under the NOTIFY payload limit that together name every user given. */
function batches(from: string, users: Record<Kind, Set<string>>): string[] {
  const messages: string[] = []
  const empty = (): Message => ({ from, changed: [], ended: [], reminded: [] })
  let current = empty()
  let size = 80
  let any = false
  for (const kind of Object.keys(users) as Kind[])
    for (const userId of users[kind]) {
      const cost = Buffer.byteLength(JSON.stringify(userId)) + 1
      if (size + cost > MAX_PAYLOAD) {
        messages.push(JSON.stringify(current))
        current = empty()
        size = 80
      }
      current[kind].push(userId)
      size += cost
      any = true
    }
  if (any) messages.push(JSON.stringify(current))
  return messages
}
