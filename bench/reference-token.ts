// HS256 bearer tokens of the reference server (bench/reference.ts), checked
// by hand: the key imported once into Web Crypto, alg, exp, nbf, iat and sub
// checked as the service checks them.

const CLOCK_SKEW_SECONDS = 30
const MAX_SUBJECT_LENGTH = 255

/** Why a request is refused: the service's 401 codes and details. */
export interface Refusal {
  code: 'token_missing' | 'token_invalid' | 'token_expired'
  detail: string
}

const refuse = (code: Refusal['code'], detail: string): Refusal => ({ code, detail })

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * The function that reads an Authorization header: the token's subject, or
 * why it is refused. `cache` (REFERENCE_TOKEN_CACHE) keeps what a token
 * verified to until its exp, by its text, as the service does.
 */
export async function tokenVerifier(secret: string, cache: boolean): Promise<(authorization: string | null) => Promise<string | Refusal>> {
  const encoder = new TextEncoder()
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
  // Token text -> subject and exp, bounded, oldest out first.
  const verified = new Map<string, { sub: string; exp: number }>()

  async function verifyToken(token: string): Promise<string | Refusal> {
    const first = token.indexOf('.')
    const second = token.indexOf('.', first + 1)
    if (first < 1 || second < 0 || token.indexOf('.', second + 1) !== -1) return refuse('token_invalid', 'Token is malformed')
    const header = decodeJson(token.slice(0, first))
    if (!header) return refuse('token_invalid', 'Token is malformed')
    if (header.alg !== 'HS256') return refuse('token_invalid', 'Token algorithm is not accepted')
    const signature = Buffer.from(token.slice(second + 1), 'base64url')
    if (!(await crypto.subtle.verify('HMAC', key, signature, encoder.encode(token.slice(0, second)))))
      return refuse('token_invalid', 'Token signature is invalid')
    const payload = decodeJson(token.slice(first + 1, second))
    if (!payload) return refuse('token_invalid', 'Token is malformed')
    const now = Date.now() / 1000
    const { exp, nbf, iat, sub } = payload
    if (typeof exp !== 'number') return refuse('token_invalid', 'Token is missing the exp claim')
    if (exp <= now - CLOCK_SKEW_SECONDS) return refuse('token_expired', 'Token has expired')
    if ((typeof nbf === 'number' && nbf > now + CLOCK_SKEW_SECONDS) || (typeof iat === 'number' && iat > now + CLOCK_SKEW_SECONDS))
      return refuse('token_invalid', 'Token is not valid yet')
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH || sub.includes('\u0000') || !sub.isWellFormed())
      return refuse('token_invalid', 'Token sub claim is not accepted')
    return sub
  }

  return async (authorization) => {
    if (!authorization) return refuse('token_missing', 'Missing bearer token')
    const match = /^Bearer +([^\s]+) *$/i.exec(authorization)
    if (!match) return refuse('token_invalid', 'Authorization header must be "Bearer <token>"')
    const token = match[1]!
    if (!cache) return verifyToken(token)
    const known = verified.get(token)
    if (known && known.exp > Date.now() / 1000) return known.sub
    const result = await verifyToken(token)
    if (typeof result === 'string') {
      verified.set(token, { sub: result, exp: decodeJson(token.slice(token.indexOf('.') + 1, token.lastIndexOf('.')))!.exp as number })
      if (verified.size > 10_000) verified.delete(verified.keys().next().value!)
    }
    return result
  }
}
