// One attempt at a delivery: check where the URL leads now, then POST the
// signed payload to the address checked (the Host header and the TLS name
// stay the URL's), with a deadline, following no redirect.
import { Webhook } from 'standardwebhooks'
import packageJson from '../../package.json'
import { checkDestination, type DestinationPolicy, DestinationRefused, type Resolve } from './destinations'
import type { Outcome, Taken } from './outbox'

const USER_AGENT = `todo-api-webhooks/${packageJson.version}`
// An error told to the user is cut short: a receiver's message could be anything.
const MAX_ERROR = 300

export interface SendOptions {
  policy: DestinationPolicy
  resolve?: Resolve
  timeoutMs: number
  /** Aborts the attempt (the instance is stopping). */
  signal?: AbortSignal
}

/** The Standard Webhooks headers for this payload, signed at `at`. */
export function signedHeaders(secret: string, messageId: string, payload: string, at: Date): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(messageId, at, payload),
  }
}

/** The URL with its host replaced by the address to connect to. */
function pinned(url: URL, address: string): URL {
  const target = new URL(url)
  target.hostname = address.includes(':') ? `[${address}]` : address
  return target
}

/** Sends the delivery once; answers how it went (never throws for the receiver's faults). */
export async function sendDelivery(taken: Taken, at: Date, options: SendOptions): Promise<Outcome> {
  let destination: Awaited<ReturnType<typeof checkDestination>>
  try {
    destination = await checkDestination(taken.url, options.policy, options.resolve)
  } catch (error) {
    if (error instanceof DestinationRefused) return { delivered: false, status: null, error: `refused: ${error.message}` }
    throw error
  }
  const { url, address } = destination
  const hostIsName = url.hostname !== address && !url.hostname.startsWith('[')
  const signals = [AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])]
  try {
    const response = await fetch(pinned(url, address), {
      method: 'POST',
      headers: {
        host: url.host,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        ...signedHeaders(taken.secret, taken.messageId, taken.payload, at),
      },
      body: taken.payload,
      // A redirect could lead anywhere, a private address included: it counts as a failure.
      redirect: 'manual',
      // An HTTP proxy from the environment would resolve the name itself, past the check.
      proxy: false,
      // The certificate is checked against the URL's name, not the address connected to.
      ...(url.protocol === 'https:' && hostIsName ? { tls: { serverName: url.hostname } } : {}),
      signal: AbortSignal.any(signals),
    } as BunFetchRequestInit)
    await response.body?.cancel().catch(() => {})
    if (response.status >= 200 && response.status < 300) return { delivered: true, status: response.status }
    return { delivered: false, status: response.status, error: `answered ${response.status}` }
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError'
    const message = timedOut ? `no answer within ${options.timeoutMs / 1000} s` : error instanceof Error ? error.message : String(error)
    return { delivered: false, status: null, error: message.slice(0, MAX_ERROR) }
  }
}
