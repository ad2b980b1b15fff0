import net from 'node:net'
import { DatabaseUnavailable } from './errors'

export interface GuardOptions {
  /** Operations (statements or transactions) in flight at once: the pool size. */
  slots: number
  /** How long an operation may take once it holds a slot (plus a quarter for the database's own cancel to arrive), before the caller gets a 503. */
  timeoutMs: number
}

/** Runs one database operation within the guard's bounds; `deadline` is when it will be answered with a 503 at the latest. */
export type Guard = <T>(work: (deadline: number) => PromiseLike<T>) => Promise<T>

// Waiters beyond this many per slot are refused at once: a queue that can
// only end in timeouts is not worth joining.
const WAITERS_PER_SLOT = 200
// Deadlines are enforced by one timer sweeping every operation and waiter,
// not a timer and a promise race per statement: a deadline fires at most this late.
const SWEEP_MS = 25

interface Operation {
  work: (deadline: number) => PromiseLike<unknown>
  resolve(value: unknown): void
  reject(error: unknown): void
  /** Waiting: when it stops waiting for a slot (503 busy). */
  until: number
  /** When the caller gets an answer anyway (503 timeout); Infinity once answered. */
  answerBy: number
}

/**
 * postgres.js queues without bound when its pool is busy, and waits as long
 * as TCP does on a database that went silent. The guard bounds both: an
 * operation waits for one of `slots` at most an eighth of the timeout (then
 * 503 busy, never having reached the database), and once it holds a slot is
 * answered by the timeout plus a quarter whatever the database does (503
 * timeout): at most 1.375 times the timeout in all. The database ends its
 * own side first: connectionTimeouts() has it cancel a
 * statement at the timeout, so whenever it can still hear us, its verdict
 * (a cancelled statement, nothing committed) arrives before the guard's. A
 * slot is freed only when the driver is done with it, so the count never
 * lies about the pool.
 */
export function createGuard({ slots, timeoutMs }: GuardOptions): Guard {
  const graceMs = timeoutMs / 4
  const maxWaitMs = timeoutMs / 8
  const maxWaiting = slots * WAITERS_PER_SLOT
  const waiting: Operation[] = []
  // Running operations by the slot they hold: an array of places, which
  // costs less per operation on the hot path than adding to and deleting from a Set.
  const running: (Operation | undefined)[] = new Array<Operation | undefined>(slots).fill(undefined)
  const freePlaces = Array.from({ length: slots }, (_, place) => place)

  // Runs only while something is waiting or running: an idle service sleeps.
  let sweeper: Timer | undefined
  function sweep() {
    if (waiting.length === 0 && freePlaces.length === slots) {
      clearInterval(sweeper)
      sweeper = undefined
      return
    }
    const now = performance.now()
    let kept = 0
    for (const waiter of waiting) {
      if (waiter.until <= now) waiter.reject(new DatabaseUnavailable('busy'))
      else waiting[kept++] = waiter
    }
    waiting.length = kept
    for (const operation of running) {
      if (operation === undefined || operation.answerBy > now) continue
      // Answered now; its slot stays held until the driver is done with it.
      operation.answerBy = Infinity
      operation.reject(new DatabaseUnavailable('timeout'))
    }
  }

  function begin(operation: Operation): void {
    const place = freePlaces.pop()!
    running[place] = operation
    // Counted from here, not from when it was asked: PostgreSQL's own timeout
    // starts when the statement arrives, and its verdict must come first,
    // however long the operation waited for this slot.
    operation.answerBy = performance.now() + timeoutMs + graceMs
    sweeper ??= setInterval(sweep, SWEEP_MS)
    const done = () => {
      running[place] = undefined
      freePlaces.push(place)
      // A waiter past its wait is refused here, not started late (the sweep would refuse it at its next pass).
      let next = waiting.shift()
      while (next && next.until <= performance.now()) {
        next.reject(new DatabaseUnavailable('busy'))
        next = waiting.shift()
      }
      if (next) begin(next)
    }
    const settle = (settled: () => void) => {
      done()
      if (operation.answerBy !== Infinity) settled()
    }
    try {
      operation.work(operation.answerBy - graceMs).then(
        (value) => settle(() => operation.resolve(value)),
        (error: unknown) => settle(() => operation.reject(error)),
      )
    } catch (error) {
      settle(() => operation.reject(error))
    }
  }

  return <T>(work: (deadline: number) => PromiseLike<T>): Promise<T> => {
    const { promise, resolve, reject } = Promise.withResolvers<T>()
    const asked = performance.now()
    const operation: Operation = {
      work,
      resolve: resolve as (value: unknown) => void,
      reject,
      until: asked + maxWaitMs,
      // Counted anew when it gets a slot (begin).
      answerBy: asked + timeoutMs + graceMs,
    }
    if (freePlaces.length > 0) begin(operation)
    else if (waiting.length >= maxWaiting) reject(new DatabaseUnavailable('busy'))
    else {
      waiting.push(operation)
      sweeper ??= setInterval(sweep, SWEEP_MS)
    }
    return promise
  }
}

// Each PostgreSQL database's guard, by its drizzle instance. PGlite runs in
// process, one statement at a time, and needs none.
const guards = new WeakMap<object, Guard>()

export function guardDatabase(db: object, guard: Guard): void {
  guards.set(db, guard)
}

/** Runs `work` on `db` within its guard's bounds (directly when it has none). */
export function guarded<T>(db: object, work: (deadline: number) => PromiseLike<T>): Promise<T> {
  const guard = guards.get(db)
  return guard ? guard(work) : Promise.resolve(work(Number.POSITIVE_INFINITY))
}

/**
 * The server-side bounds sent when each connection starts: PostgreSQL itself
 * cancels a statement past the timeout and ends a transaction left idle that
 * long. Transaction poolers (PgBouncer) refuse these startup parameters
 * ("unsupported startup parameter"): behind one they are not sent (see
 * openDatabase), and they belong on the database role instead.
 */
export function connectionTimeouts(timeoutMs: number): Record<string, string> {
  return { statement_timeout: String(timeoutMs), idle_in_transaction_session_timeout: String(timeoutMs) }
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
