// The live streams this instance holds, by user. A stream is woken when its
// user's feed may have moved (a write here, or a notification from another
// instance) and then reads the feed from its own position: a late or lost
// wake-up costs latency, never a change, and a duplicate costs one read.

export const MAX_STREAMS_PER_USER = 20

export interface LiveStream {
  readonly userId: string
  /** The feed may have moved: read it. */
  wake(): void
  /** The feed position the stream has sent everything up to. */
  position(): number
  /** Reminders of the user fired: read the notices (src/reminders/notices.ts). */
  remind(): void
  /** The last reminder notice the stream has sent; undefined until it knows where it started. */
  noticePosition(): number | undefined
  /** End the stream (instance stopping); `flush`: send what is left in the feed first (account deleted). */
  end(flush?: boolean): void
}

export type Hub = ReturnType<typeof createHub>

export function createHub() {
  const byUser = new Map<string, Set<LiveStream>>()
  const each = (streams: Iterable<LiveStream> | undefined, act: (stream: LiveStream) => void) => {
    for (const stream of [...(streams ?? [])]) act(stream)
  }
  return {
    /** Adds the stream, unless its user already has MAX_STREAMS_PER_USER here. */
    add(stream: LiveStream): boolean {
      const streams = byUser.get(stream.userId) ?? new Set()
      if (streams.size >= MAX_STREAMS_PER_USER) return false
      streams.add(stream)
      byUser.set(stream.userId, streams)
      return true
    },
    remove(stream: LiveStream): void {
      const streams = byUser.get(stream.userId)
      streams?.delete(stream)
      if (streams?.size === 0) byUser.delete(stream.userId)
    },
    wake(userId: string): void {
      each(byUser.get(userId), (stream) => stream.wake())
    },
    remind(userId: string): void {
      each(byUser.get(userId), (stream) => stream.remind())
    },
    /** After a gap in notifications (the listening connection came back): every stream reads, the feed and the notices. */
    wakeAll(): void {
      for (const streams of byUser.values())
        each(streams, (stream) => {
          stream.wake()
          stream.remind()
        })
    },
    /** The user's account is gone: their streams send what is left, then end. */
    end(userId: string): void {
      each(byUser.get(userId), (stream) => stream.end(true))
    },
    /** Every user with a stream here, with the lowest position their streams have sent. */
    positions(): Map<string, number> {
      const lowest = new Map<string, number>()
      for (const [userId, streams] of byUser) lowest.set(userId, Math.min(...[...streams].map((stream) => stream.position())))
      return lowest
    },
    /** Every user with a stream here that knows its notice position, with the lowest one. */
    noticePositions(): Map<string, number> {
      const lowest = new Map<string, number>()
      for (const [userId, streams] of byUser)
        for (const stream of streams) {
          const position = stream.noticePosition()
          if (position !== undefined) lowest.set(userId, Math.min(position, lowest.get(userId) ?? position))
        }
      return lowest
    },
    endAll(): void {
      for (const streams of [...byUser.values()]) each(streams, (stream) => stream.end())
    },
    /** Open streams, in all or of one user. */
    count(userId?: string): number {
      if (userId !== undefined) return byUser.get(userId)?.size ?? 0
      let total = 0
      for (const streams of byUser.values()) total += streams.size
      return total
    },
  }
}
