// The live streams this instance holds, by user. A stream is woken when its
// user's feed may have moved (a write here, or a notification from another
// instance) and then reads the feed from its own position: a late or lost
// wake-up costs latency, never a change, and a duplicate costs one read.

export const MAX_STREAMS_PER_USER = 20

export interface LiveStream {
  readonly userId: string
  /** The feed may have moved: read it. */
  wake(): void
  /** End the stream (account deleted, instance stopping). */
  end(): void
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
    /** After a gap in notifications (the listening connection came back): every stream reads. */
    wakeAll(): void {
      for (const streams of byUser.values()) each(streams, (stream) => stream.wake())
    },
    end(userId: string): void {
      each(byUser.get(userId), (stream) => stream.end())
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
