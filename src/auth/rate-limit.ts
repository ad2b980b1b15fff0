import { RateLimited } from './errors'

export interface RateLimit {
  /** Attempts allowed in a burst. */
  burst: number
  /** Seconds for one attempt to come back. */
  refillSeconds: number
}

// Bounds memory under a flood of distinct addresses; the oldest entry goes first.
const MAX_TRACKED_ADDRESSES = 50_000

/**
 * A token bucket per client address, in this process's memory: limits hold per
 * instance, not across a fleet. Every attempt counts, failed or not.
 */
export function createRateLimiter({ burst, refillSeconds }: RateLimit, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>()
  return function take(address: string): void {
    const time = now()
    const bucket = buckets.get(address) ?? { tokens: burst, at: time }
    buckets.delete(address) // re-inserted below: Map order becomes least recently used first
    bucket.tokens = Math.min(burst, bucket.tokens + (time - bucket.at) / (refillSeconds * 1000))
    bucket.at = time
    if (bucket.tokens < 1) {
      buckets.set(address, bucket)
      throw new RateLimited(Math.ceil((1 - bucket.tokens) * refillSeconds))
    }
    bucket.tokens -= 1
    buckets.set(address, bucket)
    if (buckets.size > MAX_TRACKED_ADDRESSES) buckets.delete(buckets.keys().next().value!)
  }
}
