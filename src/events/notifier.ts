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
  close(): Promise<void>
}

type Message = { from: string; changed: string[]; ended: string[] }

/** Embedded mode: one process, so the hub is told directly. */
export function localNotifier(hub: Hub): Notifier {
  return {
    changed: (userId) => hub.wake(userId),
    ended: (userId) => hub.end(userId),
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

  const changed = new Set<string>()
  const ended = new Set<string>()
  let timer: Timer | undefined
  async function flush() {
    timer = undefined
    const messages = batches(instance, [...changed], [...ended])
    changed.clear()
    ended.clear()
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
      changed.add(userId)
      schedule()
    },
    ended(userId) {
      hub.end(userId)
      ended.add(userId)
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
function batches(from: string, changed: string[], ended: string[]): string[] {
  const messages: string[] = []
  let current: Message = { from, changed: [], ended: [] }
  let size = 64
  const push = (list: 'changed' | 'ended', userId: string) => {
    const cost = Buffer.byteLength(JSON.stringify(userId)) + 1
    if (size + cost > MAX_PAYLOAD) {
      messages.push(JSON.stringify(current))
      current = { from, changed: [], ended: [] }
      size = 64
    }
    current[list].push(userId)
    size += cost
  }
  for (const userId of changed) push('changed', userId)
  for (const userId of ended) push('ended', userId)
  if (current.changed.length || current.ended.length) messages.push(JSON.stringify(current))
  return messages
}
