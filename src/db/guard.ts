import net from 'node:net'
import type { Sql } from 'postgres'
import { DatabaseUnavailable } from './errors'

export interface GuardOptions {
  /** Operations (queries or transactions) in flight at once: the pool size. */
  slots: number
  /** How long an operation may wait for a free slot before a 503. */
  waitMs: number
  /** How long an operation may take before the caller gets a 503. */
  timeoutMs: number
  /** False behind a pooler without prepared statements: none reaches the server, whatever drizzle asks. */
  prepare: boolean
}

// Waiters beyond this many per slot are refused at once: a queue that can
// only end in timeouts is not worth joining.
const WAITERS_PER_SLOT = 200
// The least time worth starting an operation with.
const MIN_RUN_MS = 50
// Deadlines are enforced by one timer sweeping every operation and waiter,
// not a timer and a promise race per query (those cost ~10 us a query here):
// a deadline fires at most this late.
const SWEEP_MS = 25

/** One query or transaction, from its request for a slot to its answer: one promise all the way. */
interface Operation {
  work: () => PromiseLike<unknown>
  cancel?: () => unknown
  resolve(value: unknown): void
  reject(error: unknown): void
  /** When it asked for a slot: its deadline counts from there. */
  asked: number
  /** Waiting: when it stops waiting for a slot (503 busy). */
  until: number
  /** Running: when the caller gets its answer anyway; Infinity once the answer is given. */
  deadline: number
  /** Past the deadline: when a cancelled operation stops waiting to say how it ended. */
  cancelledUntil: number
}

/**
 * postgres.js queues without bound when its pool is busy and waits forever
 * on a connection whose peer went silent. This wraps the client drizzle uses
 * so that every query and transaction waits a bounded time for a connection
 * and answers within a deadline (503 with Retry-After), cancelling the query
 * when the server can still hear us. A slot is freed only when the database
 * has really finished with it, so the count never lies about the pool.
 */
export function guardPostgres(client: Sql, options: GuardOptions): Sql {
  const maxWaiting = options.slots * WAITERS_PER_SLOT
  const waiting: Operation[] = []
  // Operations by the slot they hold: never more than `slots` at once. A Set
  // here cost ~15 % of a list's CPU over HTTP (A/B at 64 connections), far
  // more than its add and delete cost in a loop; an array of places does not.
  // A place is free (and so a slot) only once the database is done with its operation.
  const running: (Operation | undefined)[] = new Array<Operation | undefined>(options.slots).fill(undefined)
  const freePlaces = Array.from({ length: options.slots }, (_, place) => place)

  // Past the deadline the server is asked to cancel, and given a moment to say
  // how the operation ended: whenever the database can still hear us, the
  // answer matches what happened (cancelled: 503; finished after all: its
  // result). Only a database that cannot be reached leaves a 503 ambiguous.
  const cancelGraceMs = Math.min(1000, options.timeoutMs / 2)

  // Runs only while something is waiting or running: an idle service sleeps.
  let sweeper: Timer | undefined
  function sweep() {
    if (waiting.length === 0 && !running.some(Boolean)) {
      clearInterval(sweeper)
      sweeper = undefined
      return
    }
    const now = performance.now()
    if (waiting.length) {
      let kept = 0
      for (const waiter of waiting) {
        if (waiter.until <= now) waiter.reject(new DatabaseUnavailable('busy'))
        else waiting[kept++] = waiter
      }
      waiting.length = kept
    }
    for (let place = 0; place < running.length; place++) {
      const operation = running[place]
      if (operation === undefined) continue
      if (operation.deadline <= now) {
        operation.deadline = Infinity
        operation.cancelledUntil = now + cancelGraceMs
        Promise.resolve()
          .then(operation.cancel)
          .catch(() => {})
      } else if (operation.cancelledUntil <= now) {
        // Answered: no longer watched, though its slot stays held until the database is done.
        running[place] = undefined
        operation.reject(new DatabaseUnavailable('timeout'))
      }
    }
  }
  function watch() {
    sweeper ??= setInterval(sweep, SWEEP_MS)
  }

  // The slot of an operation that has finished goes straight to the longest
  // waiter, unless too little of that one's time is left to start it: a query
  // cancelled before postgres.js has sent it can still be sent afterwards,
  // and commit behind a 503.
  function release(): void {
    for (let next = waiting.shift(); next; next = waiting.shift()) {
      const remaining = options.timeoutMs - (performance.now() - next.asked)
      if (remaining >= MIN_RUN_MS) {
        begin(next, remaining)
        return
      }
      next.reject(new DatabaseUnavailable('busy'))
    }
  }

  function begin(operation: Operation, remaining: number): void {
    operation.deadline = performance.now() + remaining
    const place = freePlaces.pop()!
    running[place] = operation
    watch()
    const done = () => {
      running[place] = undefined
      freePlaces.push(place)
      release()
    }
    try {
      operation.work().then(
        (value) => {
          done()
          operation.resolve(value)
        },
        (error: unknown) => {
          done()
          operation.reject(error)
        },
      )
    } catch (error) {
      done()
      operation.reject(error)
    }
  }

  // The deadline counts from the request for a slot: waiting is part of it.
  // A caller beyond the waiters' bound is refused at once (503 busy).
  function run<T>(work: () => PromiseLike<T>, cancel?: () => unknown): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>()
    const asked = performance.now()
    const operation: Operation = {
      work,
      cancel,
      resolve: resolve as (value: unknown) => void,
      reject,
      asked,
      until: asked + Math.min(options.waitMs, options.timeoutMs),
      deadline: Infinity,
      cancelledUntil: Infinity,
    }
    if (freePlaces.length > 0) {
      begin(operation, options.timeoutMs)
    } else if (waiting.length >= maxWaiting) {
      reject(new DatabaseUnavailable('busy'))
    } else {
      waiting.push(operation)
      watch()
    }
    return promise
  }

  // Past its deadline a transaction is doomed: the statement running is
  // cancelled and any later one refused, so it rolls back. A 503 then means
  // nothing was committed (short of a COMMIT already on the wire).
  function guardedTransaction(target: Sql, args: unknown[]) {
    const work = args.pop() as (tx: Sql) => unknown
    let current: { cancel(): unknown } | undefined
    let doomed = false
    const watched = (tx: Sql) =>
      work(
        new Proxy(tx, {
          get(inner, key, receiver) {
            if (key !== 'unsafe') return Reflect.get(inner, key, receiver)
            return (...query: Parameters<Sql['unsafe']>) => {
              if (doomed) throw new DatabaseUnavailable('timeout')
              const pending = inner.unsafe(...query)
              current = pending
              return pending
            }
          },
        }),
      )
    return run(
      () => (target.begin as (...a: unknown[]) => Promise<unknown>)(...args, watched),
      () => {
        doomed = true
        return current?.cancel()
      },
    )
  }

  // postgres.js queries are lazy: built by the caller, sent only once a slot is held.
  function runQuery<T>(query: PromiseLike<T> & { cancel(): unknown }): Promise<T> {
    return run(
      () => query,
      () => query.cancel(),
    )
  }

  function unsafe(text: string, parameters?: Parameters<Sql['unsafe']>[1], queryOptions?: Parameters<Sql['unsafe']>[2]) {
    const query = client.unsafe(text, parameters, options.prepare ? queryOptions : { ...queryOptions, prepare: false })
    return {
      values: () => runQuery(query.values()),
      // biome-ignore lint/suspicious/noThenProperty: drizzle awaits what sql.unsafe returns
      then: <A, B>(done?: (rows: Awaited<typeof query>) => A, failed?: (error: unknown) => B) => runQuery(query).then(done, failed),
    }
  }
  return new Proxy(client, {
    get(target, key, receiver) {
      if (key === 'unsafe') return unsafe
      if (key === 'begin') return (...args: unknown[]) => guardedTransaction(target, args)
      return Reflect.get(target, key, receiver)
    },
  })
}

/**
 * A socket for postgres.js that gives up on a database silent for `silentMs`
 * while connecting or in the middle of a query (a network partition), so the
 * pool reconnects instead of waiting for TCP to notice, which takes minutes.
 * postgres.js closes idle connections itself before this fires on them.
 */
export function silentSocketCutoff(silentMs: number) {
  return (options: { host: string[]; port: number[]; path?: string | false }) =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = options.path ? net.connect(options.path) : net.connect(options.port[0]!, options.host[0]!)
      // postgres.js takes the TLS server name (SNI, which Neon routes by) from these.
      Object.assign(socket, { host: options.host[0], port: options.port[0] })
      socket.setTimeout(silentMs, () => socket.destroy(new Error(`database silent for ${silentMs} ms`)))
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(socket)
      })
    })
}
