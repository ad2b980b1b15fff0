// An event stream read as a client reads it: each event's name and data,
// with the moment it arrived.

export type Received = { event: string; data: string; at: number }

/** Opens `url` with the token and calls `onEvent` for each event until the stream ends; `opened` once the first bytes arrive. */
export async function readEvents(url: string, token: string, onEvent: (received: Received) => void, opened: () => void): Promise<void> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  if (response.status !== 200) throw new Error(`GET ${new URL(url).pathname} answered ${response.status}`)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let first = true
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
    if (done) return
    const at = Date.now()
    if (first) {
      first = false
      opened()
    }
    buffer += decoder.decode(value, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      const lines = buffer.slice(0, end).split('\n')
      buffer = buffer.slice(end + 2)
      const data = lines.find((line) => line.startsWith('data: '))
      if (data) onEvent({ event: lines.find((line) => line.startsWith('event: '))?.slice(7) ?? 'message', data: data.slice(6), at })
      end = buffer.indexOf('\n\n')
    }
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
