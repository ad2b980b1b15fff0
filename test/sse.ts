// Reading a text/event-stream answer as a client does: events split on blank
// lines, `event`, `id` and `data` fields, comment lines kept apart.
import { expect } from 'bun:test'
import type { Hub } from '../src/events/hub'

export type SseEvent = { event: string; id?: string; data: string }

export interface EventReader {
  /** The next event (comments skipped); fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseEvent>
  /** The next `count` events of type `change`, parsed. */
  changes(count: number, timeoutMs?: number): Promise<{ id: string; change: any }[]>
  /** Resolves when the server ends the stream. */
  ended(timeoutMs?: number): Promise<void>
  comments: string[]
  close(): Promise<void>
}

export function readEvents(response: Response): EventReader {
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/event-stream')
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const queue: SseEvent[] = []
  const comments: string[] = []
  let buffer = ''
  let done = false
  let waiting: (() => void) | undefined

  const pump = (async () => {
    for (;;) {
      const { value, done: finished } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (finished) break
      buffer += decoder.decode(value, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event: SseEvent = { event: 'message', data: '' }
        let isEvent = false
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line)
          else if (line.startsWith('event: ')) [event.event, isEvent] = [line.slice(7), true]
          else if (line.startsWith('id: ')) [event.id, isEvent] = [line.slice(4), true]
          else if (line.startsWith('data: ')) [event.data, isEvent] = [event.data + line.slice(6), true]
        }
        if (isEvent) queue.push(event)
        end = buffer.indexOf('\n\n')
      }
      waiting?.()
    }
    done = true
    waiting?.()
  })()

  async function until(ready: () => boolean, timeoutMs: number, what: string) {
    const deadline = Date.now() + timeoutMs
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        waiting = resolve
        setTimeout(resolve, 20)
      })
    }
  }

  return {
    comments,
    async next(timeoutMs = 5000) {
      await until(() => queue.length > 0 || done, timeoutMs, 'event')
      const event = queue.shift()
      if (!event) throw new Error('the stream ended')
      return event
    },
    async changes(count, timeoutMs = 5000) {
      const found: { id: string; change: any }[] = []
      while (found.length < count) {
        const event = await this.next(timeoutMs)
        if (event.event === 'change') found.push({ id: event.id!, change: JSON.parse(event.data) })
      }
      return found
    },
    async ended(timeoutMs = 5000) {
      await until(() => done, timeoutMs, 'end of stream')
    },
    async close() {
      await reader.cancel().catch(() => {})
      await pump
    },
  }
}

/** The changes up to and including the one of task `id` (the lists' come as their open_count moves). */
export async function untilTask(reader: EventReader, id: number) {
  const seen: { id: string; change: any }[] = []
  for (;;) {
    const [next] = await reader.changes(1)
    seen.push(next!)
    if (next!.change.type === 'task' && next!.change.id === id) return seen
  }
}

/** The stream's first comment, which says it is open: what follows is live. */
export async function waitForComment(reader: EventReader) {
  const deadline = Date.now() + 5000
  while (reader.comments.length === 0) {
    if (Date.now() > deadline) throw new Error('the stream never opened')
    await Bun.sleep(5)
  }
}

/** A live stream of `user` on `app`, open, and knowing where its reminders start (so a reminder fired now reaches it). */
export async function reminderStream(
  app: { handle(request: Request): Promise<Response> },
  hub: Pick<Hub, 'noticePositions'>,
  user: { id: string; token: string },
): Promise<EventReader> {
  const reader = readEvents(
    await app.handle(new Request('http://localhost/api/events', { headers: { authorization: `Bearer ${user.token}` } })),
  )
  await waitForComment(reader)
  const deadline = Date.now() + 5000
  while (!hub.noticePositions().has(user.id)) {
    if (Date.now() > deadline) throw new Error('the stream never learnt where its reminders start')
    await Bun.sleep(5)
  }
  return reader
}
