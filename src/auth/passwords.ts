import { ServerBusy } from './errors'

// argon2id (Bun's default: 64 MiB, t=2) costs ~250 ms of a core. Hashes run
// on Bun's worker threads; unbounded, a burst of signins takes every core and
// starves the event loop. So at most HASH_CONCURRENCY run at once, a short
// queue waits, and past it the request is shed at once with 503.
const HASH_CONCURRENCY = Math.max(1, navigator.hardwareConcurrency - 1)
const HASH_QUEUE = 16 * HASH_CONCURRENCY

let running = 0
const waiting: (() => void)[] = []

async function bounded<T>(work: () => Promise<T>): Promise<T> {
  if (running >= HASH_CONCURRENCY) {
    if (waiting.length >= HASH_QUEUE) throw new ServerBusy()
    await new Promise<void>((resolve) => waiting.push(resolve))
  } else {
    running++
  }
  try {
    return await work()
  } finally {
    // Hand the slot straight to the next waiter, or free it.
    const next = waiting.shift()
    if (next) next()
    else running--
  }
}

export function hashPassword(password: string): Promise<string> {
  return bounded(() => Bun.password.hash(password, { algorithm: 'argon2id' }))
}

// Verified against when the email is unknown, so that answer takes as long as
// a wrong password. A hash of a random throwaway string, made once.
let dummyHash: Promise<string> | undefined

/** Makes the dummy hash ahead of the first unknown-email signin, which would otherwise be slower. */
export function prepareDummyHash(): void {
  dummyHash ??= Bun.password.hash(crypto.randomUUID(), { algorithm: 'argon2id' })
}

/** True when the password matches; with no hash (unknown email) it spends the same time and says false. */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  prepareDummyHash()
  const against = hash ?? (await dummyHash!)
  const matches = await bounded(() => Bun.password.verify(password, against))
  return matches && hash !== undefined
}
