// Raw TCP for what fetch and a Request object cannot express: duplicate or malformed headers, unknown
// methods, bodies sent in halves or framed wrongly, and ports that refuse or never answer.
import type { Reply } from './support'

/** A port nothing listens on: a listener is opened and closed again. */
export function closedPort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  listener.stop(true)
  return listener.port
}

/** A listener that accepts connections and never answers; the caller stops it. */
export function silentListener() {
  return Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { open() {}, data() {} } })
}

/** A connection to 127.0.0.1:port that writes text as given and collects what comes back. */
export async function rawConnection(port: number) {
  let received = ''
  let closed = false
  const waiters: (() => void)[] = []
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter()
  }
  const finish = () => {
    closed = true
    wake()
  }
  const decoder = new TextDecoder()
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data(_, chunk) {
        received += decoder.decode(chunk, { stream: true })
        wake()
      },
      close: finish,
      end: finish,
      error: finish,
    },
  })
  return {
    write: (text: string) => socket.write(text),
    end: () => socket.end(),
    /** Everything received once `done(received)` holds, or once the server closes the connection. */
    async until(done: (received: string) => boolean = () => false): Promise<string> {
      while (!done(received) && !closed) await new Promise<void>((resolve) => waiters.push(resolve))
      return received
    },
  }
}

/**
 * Sends `head` (request line and headers, each ending in CRLF) with Host and Connection: close, reads until
 * the server closes. `text` is the whole response, head included, so leak checks see the headers too.
 */
export async function sendRaw(port: number, head: string): Promise<Reply> {
  const connection = await rawConnection(port)
  connection.write(`${head}Host: localhost\r\nConnection: close\r\n\r\n`)
  return parseResponse(await connection.until())
}

/** Status, headers and JSON body of a raw HTTP/1.1 response (no chunked decoding). */
export function parseResponse(raw: string): Reply {
  const split = raw.indexOf('\r\n\r\n')
  const [statusLine = '', ...fields] = (split < 0 ? raw : raw.slice(0, split)).split('\r\n')
  const headers = new Headers()
  for (const field of fields) {
    const colon = field.indexOf(':')
    if (colon > 0) headers.append(field.slice(0, colon).trim(), field.slice(colon + 1).trim())
  }
  const text = split < 0 ? '' : raw.slice(split + 4)
  return {
    status: Number(statusLine.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0),
    headers,
    body: text.startsWith('{') ? JSON.parse(text) : undefined,
    text: raw,
  }
}
