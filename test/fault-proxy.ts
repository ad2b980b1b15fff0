// A TCP proxy between the service and PostgreSQL that can misbehave on
// demand: netem is not in this kernel and toxiproxy is not packaged.
import type { Socket, TCPSocketListener } from 'bun'

type Mode = 'pass' | 'pause' | 'blackhole'

interface Pair {
  client: Socket<Side>
  upstream?: Socket<Side>
  /** What the client sent before the upstream connection was open. */
  early: Uint8Array[]
}

interface Side {
  pair: Pair
  /** Bytes waiting for this socket: held while paused, or past a short write. */
  queue: Uint8Array[]
}

function flush(socket: Socket<Side>) {
  const queue = socket.data.queue
  while (queue.length) {
    const chunk = queue[0]!
    const written = socket.write(chunk)
    if (written < chunk.byteLength) {
      queue[0] = chunk.subarray(written)
      return
    }
    queue.shift()
  }
}

export interface FaultProxy {
  port: number
  /** Forward everything (the default); with `resume` semantics after a pause. */
  pass(): void
  /** A partition: bytes are held, in both directions, on every connection. */
  pause(): void
  /** New connections are accepted and never answered; existing ones keep working. */
  blackhole(): void
  /** Drops every connection now (as a restarted server or a reset would). */
  reset(): void
  /** Stops listening and drops every connection: the database is "stopped". */
  refuse(): void
  /** Listens again on the same port after `refuse`. */
  restore(): void
  connections(): number
  close(): void
}

export function startFaultProxy(upstreamPort = 5432, upstreamHost = '127.0.0.1'): FaultProxy {
  let mode: Mode = 'pass'
  const pairs = new Set<Pair>()
  let listener: TCPSocketListener<Side> | undefined

  const send = (to: Socket<Side> | undefined, chunk: Uint8Array) => {
    if (!to) return
    to.data.queue.push(new Uint8Array(chunk))
    if (mode !== 'pause') flush(to)
  }

  const drop = (pair: Pair) => {
    pairs.delete(pair)
    pair.client.end()
    pair.upstream?.end()
  }

  function listen(port: number) {
    listener = Bun.listen<Side>({
      hostname: '127.0.0.1',
      port,
      socket: {
        async open(client) {
          const pair: Pair = { client, early: [] }
          client.data = { pair, queue: [] }
          pairs.add(pair)
          if (mode === 'blackhole') return
          try {
            pair.upstream = await Bun.connect<Side>({
              hostname: upstreamHost,
              port: upstreamPort,
              data: { pair, queue: [] },
              socket: {
                data: (_, chunk) => send(pair.client, chunk),
                drain: (socket) => {
                  if (mode !== 'pause') flush(socket)
                },
                close: () => drop(pair),
                error: () => drop(pair),
              },
            })
            for (const chunk of pair.early.splice(0)) send(pair.upstream, chunk)
          } catch {
            drop(pair)
          }
        },
        data(client, chunk) {
          const { pair } = client.data
          if (pair.upstream) send(pair.upstream, chunk)
          else if (mode !== 'blackhole') pair.early.push(new Uint8Array(chunk))
        },
        drain: (socket) => {
          if (mode !== 'pause') flush(socket)
        },
        close: (client) => drop(client.data.pair),
        error: (client) => drop(client.data.pair),
      },
    })
  }

  listen(0)
  const port = listener!.port

  return {
    port,
    pass() {
      mode = 'pass'
      for (const pair of pairs) {
        flush(pair.client)
        if (pair.upstream) flush(pair.upstream)
      }
    },
    pause() {
      mode = 'pause'
    },
    blackhole() {
      mode = 'blackhole'
    },
    reset() {
      for (const pair of [...pairs]) drop(pair)
    },
    refuse() {
      listener?.stop(true)
      listener = undefined
      for (const pair of [...pairs]) drop(pair)
    },
    restore() {
      if (!listener) listen(port)
    },
    connections: () => pairs.size,
    close() {
      listener?.stop(true)
      for (const pair of [...pairs]) drop(pair)
    },
  }
}
