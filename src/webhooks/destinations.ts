// Where a webhook may send (server-side request forgery): a URL whose host is,
// or resolves to, an address inside the service's network is refused, when
// registered and again before every delivery. The delivery then connects to
// the very address checked (src/webhooks/send.ts), so a DNS answer that
// changes between the check and the connection (rebinding) cannot redirect it.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Config } from '../config'
import { ValidationFailed } from '../errors'

export interface DestinationPolicy {
  /** Loopback (127/8, ::1, localhost) allowed: local development and tests (WEBHOOK_ALLOW_LOOPBACK). */
  allowLoopback: boolean
  /** Only https URLs (NODE_ENV=production). */
  requireHttps: boolean
}

/** The policy the configuration sets: WEBHOOK_ALLOW_LOOPBACK, and https only in production. */
export function destinationPolicy(config: Pick<Config, 'webhookAllowLoopback' | 'production'>): DestinationPolicy {
  return { allowLoopback: config.webhookAllowLoopback, requireHttps: config.production }
}

/** A name's addresses; node:dns lookup by default (what the operating system resolves). */
export type Resolve = (hostname: string) => Promise<string[]>

const LOOKUP_TIMEOUT_MS = 5000

export const resolveWithDns: Resolve = async (hostname) => {
  const found = lookup(hostname, { all: true, verbatim: true })
  let timer: Timer | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('DNS lookup timed out')), LOOKUP_TIMEOUT_MS)
  })
  try {
    return (await Promise.race([found, timeout])).map((entry) => entry.address)
  } finally {
    clearTimeout(timer)
  }
}

/** A URL refused, with why (said to the user as `url: <reason>`). */
export class DestinationRefused extends Error {}

/** The checked destination: the URL, and the address to connect to. */
export type Destination = { url: URL; address: string }

// Names of cloud metadata services, refused whatever they resolve to.
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal'])
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', '168.63.129.16', '100.100.100.200', 'fd00:ec2::254'])

type Kind = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'metadata' | 'reserved'

// IPv4 ranges that are not the public internet: [first octets as a number, prefix length, kind].
const IPV4_RANGES: [string, number, Kind][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['127.0.0.0', 8, 'loopback'],
  ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'],
  ['192.168.0.0', 16, 'private'],
  ['100.64.0.0', 10, 'private'],
  ['169.254.0.0', 16, 'link-local'],
  ['192.0.0.0', 24, 'reserved'],
  // Documentation (TEST-NET-1, 2 and 3) and benchmarking: never a real receiver.
  ['192.0.2.0', 24, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['198.18.0.0', 15, 'reserved'],
  ['224.0.0.0', 4, 'reserved'],
  // Reserved, 255.255.255.255 (broadcast) included.
  ['240.0.0.0', 4, 'reserved'],
]

function ipv4Number(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0)
}

function ipv4Kind(address: string): Kind | undefined {
  if (METADATA_ADDRESSES.has(address)) return 'metadata'
  const value = ipv4Number(address)
  for (const [base, bits, kind] of IPV4_RANGES) {
    const size = 2 ** (32 - bits)
    if (Math.floor(value / size) === Math.floor(ipv4Number(base) / size)) return kind
  }
  return undefined
}

/** The 16 bytes of an IPv6 address (a zone and an embedded dotted quad allowed). */
function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0]!.toLowerCase()
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const value = ipv4Number(dotted[1]!)
    text = `${text.slice(0, -dotted[1]!.length)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const groups = (part: string | undefined) => (part ? part.split(':') : [])
  const before = groups(head)
  const after = groups(tail)
  const all = tail === undefined ? before : [...before, ...Array(8 - before.length - after.length).fill('0'), ...after]
  return all.flatMap((group) => {
    const value = Number.parseInt(group, 16)
    return [value >> 8, value & 0xff]
  })
}

const startsWith = (bytes: number[], prefix: number[], bits: number) =>
  prefix.every((byte, i) => {
    const keep = Math.min(8, Math.max(0, bits - i * 8))
    const mask = (0xff << (8 - keep)) & 0xff
    return (bytes[i]! & mask) === (byte & mask)
  })

function ipv6Kind(address: string): Kind | undefined {
  const bytes = ipv6Bytes(address)
  const canonical = bytes.join(',')
  if (METADATA_ADDRESSES.has(address.toLowerCase()) || canonical === ipv6Bytes('fd00:ec2::254').join(',')) return 'metadata'
  const v4At = (offset: number) => bytes.slice(offset, offset + 4).join('.')
  if (bytes.every((byte) => byte === 0)) return 'unspecified'
  if (bytes.slice(0, 15).every((byte) => byte === 0) && bytes[15] === 1) return 'loopback'
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d)
  // and NAT64 (64:ff9b::a.b.c.d) reach an IPv4 address.
  if (
    startsWith(bytes, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96) ||
    startsWith(bytes, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], 96) ||
    startsWith(bytes, Array(12).fill(0), 96)
  )
    return ipv4Kind(v4At(12))
  if (startsWith(bytes, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return ipv4Kind(v4At(12))
  // 6to4 (2002:a.b.c.d::/48) embeds one too.
  if (startsWith(bytes, [0x20, 0x02], 16)) return ipv4Kind(v4At(2))
  if (startsWith(bytes, [0xfc], 7)) return 'private'
  if (startsWith(bytes, [0xfe, 0x80], 10)) return 'link-local'
  // Site-local (deprecated), multicast, Teredo (an IPv4 address hidden inside), NAT64 local use.
  if (startsWith(bytes, [0xfe, 0xc0], 10) || startsWith(bytes, [0xff], 8)) return 'reserved'
  if (startsWith(bytes, [0x20, 0x01, 0, 0], 32) || startsWith(bytes, [0, 0x64, 0xff, 0x9b, 0, 1], 48)) return 'reserved'
  // Documentation (2001:db8::/32) and discard-only (100::/64).
  if (startsWith(bytes, [0x20, 0x01, 0x0d, 0xb8], 32) || startsWith(bytes, [1, 0, 0, 0, 0, 0, 0, 0], 64)) return 'reserved'
  return undefined
}

/** What an address is when it is not a public one: loopback, private, link-local, unspecified, metadata or reserved. */
export function addressKind(address: string): Kind | undefined {
  const family = isIP(address.split('%')[0]!)
  if (family === 4) return ipv4Kind(address)
  if (family === 6) return ipv6Kind(address)
  return 'reserved'
}

function refusedKind(address: string, policy: DestinationPolicy): Kind | undefined {
  const kind = addressKind(address)
  return kind === 'loopback' && policy.allowLoopback ? undefined : kind
}

/** The URL as a webhook may have it, or DestinationRefused; names are not resolved here. */
export function parseWebhookUrl(raw: string, policy: DestinationPolicy): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new DestinationRefused('must be an absolute http or https URL')
  }
  if (url.protocol !== 'https:' && (policy.requireHttps || url.protocol !== 'http:'))
    throw new DestinationRefused(policy.requireHttps ? 'must be an https URL' : 'must be an http or https URL')
  if (url.username || url.password) throw new DestinationRefused('must not carry a user name or password')
  const host = url.hostname.replace(/\.$/, '').toLowerCase()
  if (METADATA_NAMES.has(host)) throw new DestinationRefused(`${host} is a cloud metadata service`)
  return url
}

/**
 * Resolves the URL's host and checks every address it has: one that is not
 * allowed refuses the whole URL (a name may answer with another at the next
 * lookup). Answers the first address, the one to connect to.
 */
export async function checkDestination(raw: string, policy: DestinationPolicy, resolve: Resolve = resolveWithDns): Promise<Destination> {
  const url = parseWebhookUrl(raw, policy)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let addresses: string[]
  if (isIP(host)) addresses = [host]
  else {
    try {
      addresses = await resolve(host)
    } catch {
      throw new DestinationRefused(`its host ${host} could not be resolved`)
    }
    if (!addresses.length) throw new DestinationRefused(`its host ${host} could not be resolved`)
  }
  for (const address of addresses) {
    const kind = refusedKind(address, policy)
    if (kind)
      throw new DestinationRefused(`${host === address ? host : `${host} (${address})`} is not reachable from here (${kind} address)`)
  }
  return { url, address: addresses[0]! }
}

/** At registration: the same check, a refusal being a 422 naming `url`. */
export async function checkWebhookUrl(raw: string, policy: DestinationPolicy, resolve?: Resolve): Promise<void> {
  try {
    await checkDestination(raw, policy, resolve)
  } catch (error) {
    if (error instanceof DestinationRefused) throw new ValidationFailed([{ field: 'url', message: error.message }])
    throw error
  }
}
