// One live stream (text/event-stream): every change after the client's
// position, then each new one as it commits. The stream reads the change
// feed itself, from its own position, whenever it is woken: events come in
// feed order, none twice, none missing.
import type { Database } from '../db/client'
import type { Logger } from '../http/logger'
import { noticeReader } from '../reminders/stream-notices'
import type { Cursor, CursorCodec } from '../sync/cursor'
import { CursorExpired } from '../sync/errors'
import { feedPosition } from '../sync/feed'
import { readFeed } from '../sync/queries'
import type { Hub, LiveStream } from './hub'

export const HEARTBEAT_MS = 15_000
// Changes read per query while catching up.
const PAGE = 200
// What a stream holds for a client that does not read (its socket full):
// past this it reads no more of the feed until the client takes some, so a
// client that stops reading costs this much memory, not its whole feed.
const QUEUED_BYTES = 64 * 1024

const encoder = new TextEncoder()

export interface StreamDeps {
  db: Database
  hub: Hub
  cursors: CursorCodec
  logger: Logger
  heartbeatMs?: number
}

/**
 * The stream's body. `from` is where the client is (its Last-Event-ID or
 * cursor), or the current position; `reset` says that position was too old,
 * which the client is told first. The caller has checked the stream limit.
 */
export function liveStream(
  { db, hub, cursors, logger, heartbeatMs = HEARTBEAT_MS }: StreamDeps,
  userId: string,
  from: Cursor,
  reset: boolean,
): { body: ReadableStream<Uint8Array>; stream: LiveStream } {
  let cursor = from
  let reading: Promise<void> | undefined
  let again = false
  let ended = false
  // Ending with what is left (account deleted): a client that does not read is not waited for.
  let ending = false
  let heartbeat: Timer | undefined
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let roomMade: (() => void) | undefined

  const send = (text: string) => {
    if (!ended) controller.enqueue(encoder.encode(text))
  }
  const full = () => (controller.desiredSize ?? 0) <= 0
  // Without an id line: the client's Last-Event-ID stays the feed cursor of its last change.
  const notices = noticeReader(
    db,
    userId,
    (reminder) => send(`event: reminder\ndata: ${JSON.stringify(reminder)}\n\n`),
    (error) => {
      logger.warn('live stream could not read its reminders; ending it', { cause: String(error) })
      end()
    },
  )

  // Whether to read on: waits while the client has not taken what the stream holds.
  async function room(): Promise<boolean> {
    while (!ended && full()) {
      if (ending) return false
      await new Promise<void>((resolve) => {
        roomMade = resolve
      })
    }
    return !ended
  }
  const makeRoom = () => {
    roomMade?.()
    roomMade = undefined
  }

  // Resolves when the stream has sent everything up to the feed's position,
  // including what a wake-up during the read asked for.
  function read(): Promise<void> {
    if (reading) {
      again = true
      return reading
    }
    reading = drain().finally(() => {
      reading = undefined
    })
    return reading
  }

  async function drain(): Promise<void> {
    try {
      do {
        again = false
        for (;;) {
          if (!(await room())) return
          let page: Awaited<ReturnType<typeof readFeed>>
          try {
            page = await readFeed(db, userId, cursor, PAGE)
          } catch (error) {
            if (!(error instanceof CursorExpired)) throw error
            // Deletions this stream had not sent yet were forgotten: the client syncs again.
            cursor = await currentCursor(db, userId)
            send('event: reset\ndata: {}\n\n')
            continue
          }
          let sent = 0
          // A page can be large: past the mark, the rest of it is read again once the client has taken some.
          for (; sent < page.changes.length && (sent === 0 || ending || !full()); sent++) {
            // Resuming from here needs no deletion at or before this change.
            const at = { ...page.at[sent]!, floor: page.at[sent]!.position }
            send(`event: change\nid: ${cursors.encode(userId, at)}\ndata: ${JSON.stringify(page.changes[sent])}\n\n`)
          }
          if (sent < page.changes.length) {
            cursor = page.at[sent - 1]!
            continue
          }
          cursor = page.cursor
          if (!page.hasMore) break
        }
      } while (again && !ended)
    } catch (error) {
      // A database fault: the stream ends and the client reconnects from its last event.
      logger.warn('live stream could not read the feed; ending it', { cause: String(error) })
      end()
    }
  }

  function end() {
    if (ended) return
    ended = true
    clearInterval(heartbeat)
    hub.remove(stream)
    makeRoom()
    try {
      controller.close()
    } catch {
      // Already cancelled by the client going away.
    }
  }

  const stream: LiveStream = {
    userId,
    wake: () => void read(),
    position: () => cursor.position,
    remind: notices.remind,
    noticePosition: notices.position,
    end: (flush = false) => {
      if (!flush) return end()
      ending = true
      makeRoom()
      void read().finally(end)
    },
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start(streamController) {
        controller = streamController
        // The retry hint, and a first byte so that proxies and clients see the stream open.
        send(`retry: 1000\n${reset ? 'event: reset\ndata: {}\n' : ': open\n'}\n`)
        // A client that reads nothing needs no keep-alive either.
        heartbeat = setInterval(() => {
          if (!full()) send(': keep-alive\n\n')
        }, heartbeatMs)
        void read()
      },
      pull: makeRoom,
      // The client went away.
      cancel: () => end(),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: QUEUED_BYTES }),
  )
  return { body, stream }
}

/** A cursor at the user's present position: only what happens from now on. */
export async function currentCursor(db: Database, userId: string): Promise<Cursor> {
  const position = await feedPosition(db, userId)
  return { floor: position, position, kind: 'end', id: 0 }
}
