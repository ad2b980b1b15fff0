import { jwt } from '@elysiajs/jwt'
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose'
import { isStorableText } from '../http/text'
import { AuthUnavailable, Unauthenticated } from './errors'

export const CLOCK_SKEW_SECONDS = 30
export const TOKEN_LIFETIME_SECONDS = 7 * 24 * 60 * 60
// Longer than any id Better Auth or this service issues; bounds what reaches SQL.
const MAX_SUBJECT_LENGTH = 255
const VERIFIED_TOKENS_KEPT = 10_000
// What Better Auth's jwt plugin can sign with (EdDSA by default).
const JWKS_ALGORITHMS = ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256']

export interface TokenOptions {
  secret: string
  issuer?: string
  audience?: string
  /** Better Auth's key set; its tokens' iss/aud default to betterAuthUrl. */
  jwksUrl?: string
  betterAuthUrl?: string
}

/** Who a verified token speaks for: `sub`, and the profile claims it carries. */
export interface Identity {
  userId: string
  email?: string
  name?: string
}

export interface IssuedToken {
  token: string
  expiresAt: Date
}

export interface Tokens {
  /** Throws Unauthenticated (401) or AuthUnavailable (503). */
  verifyBearer(authorization: string | undefined): Identity | Promise<Identity>
  issue(user: { id: string; email: string; name: string | null }): Promise<IssuedToken>
}

/** The HMAC key, imported once: importing per request is a measurable cost. */
function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
}

function toAuthError(error: unknown): Unauthenticated | AuthUnavailable {
  if (error instanceof Unauthenticated) return error
  if (error instanceof errors.JWTExpired) return new Unauthenticated('expired', 'Token has expired')
  if (error instanceof errors.JWSSignatureVerificationFailed) return new Unauthenticated('signature', 'Token signature is invalid')
  if (error instanceof errors.JOSEAlgNotAllowed) return new Unauthenticated('malformed', 'Token algorithm is not accepted')
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return new Unauthenticated('signature', 'Token key is not in the key set')
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return new Unauthenticated('claims', `Token is missing the ${error.claim} claim`)
    if (error.claim === 'nbf') return new Unauthenticated('claims', 'Token is not valid yet')
    return new Unauthenticated('claims', `Token ${error.claim} claim is not accepted`)
  }
  // The key set could not be fetched or read (no answer, not 200, not a key
  // set): the token may be fine, we cannot tell.
  if (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    !(error instanceof errors.JOSEError) ||
    error.code === 'ERR_JOSE_GENERIC'
  )
    return new AuthUnavailable()
  return new Unauthenticated('malformed', 'Token is malformed')
}

/**
 * `sub` becomes the user id in every query: text PostgreSQL can store (no NUL,
 * which it refuses, and no unpaired surrogate, which UTF-8 cannot carry and
 * would be replaced, making two subjects one user), 1..255 characters.
 */
function isAcceptedSubject(sub: unknown): sub is string {
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 2 * MAX_SUBJECT_LENGTH || !isStorableText(sub)) return false
  let characters = 0
  for (const _ of sub) if (++characters > MAX_SUBJECT_LENGTH) return false
  return true
}

function identityOf(payload: JWTPayload): Identity {
  const { sub, iat, email, name } = payload
  if (!isAcceptedSubject(sub)) throw new Unauthenticated('claims', 'Token sub claim is not accepted')
  // jose checks a future iat only together with maxTokenAge; the contract wants it always.
  if (typeof iat === 'number' && iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) throw new Unauthenticated('claims', 'Token is not valid yet')
  return {
    userId: sub,
    email: typeof email === 'string' ? email : undefined,
    name: typeof name === 'string' ? name : undefined,
  }
}

function bearerToken(authorization: string | undefined): string {
  const match = authorization?.match(/^Bearer +([^\s]+) *$/i)
  if (match) return match[1]!
  throw authorization
    ? new Unauthenticated('malformed', 'Authorization header must be "Bearer <token>"')
    : new Unauthenticated('missing', 'Missing bearer token')
}

function algorithmOf(token: string): unknown {
  try {
    return decodeProtectedHeader(token).alg
  } catch {
    throw new Unauthenticated('malformed', 'Token is malformed')
  }
}

/**
 * HS256 tokens are checked with the shared secret; with a key set configured,
 * Better Auth's asymmetric tokens against it. The header's `alg` picks the
 * path and each path accepts only its own algorithms, so neither `none` nor a
 * public key used as an HMAC secret gets through. `sub` and `exp` are required.
 */
export async function createTokens(options: TokenOptions): Promise<Tokens> {
  const key = await importSecret(options.secret)
  // The design card's plugin signs; verification stays on jose (below), for
  // the contract's reasons (expired, bad signature) and Better Auth's key set.
  // Used outside a request, through the function the plugin decorates.
  const signer = jwt({ secret: key, alg: 'HS256', typ: 'JWT', iss: options.issuer, aud: options.audience }).decorator.jwt
  const common = { requiredClaims: ['sub', 'exp'], clockTolerance: CLOCK_SKEW_SECONDS }
  const sharedSecretOptions = { ...common, algorithms: ['HS256'], issuer: options.issuer, audience: options.audience }
  const keySet = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 })
    : undefined
  const keySetOptions = {
    ...common,
    algorithms: JWKS_ALGORITHMS,
    issuer: options.issuer ?? options.betterAuthUrl,
    audience: options.audience ?? options.betterAuthUrl,
  }

  async function verify(token: string): Promise<{ identity: Identity; exp: number }> {
    const alg = algorithmOf(token)
    try {
      let payload: JWTPayload | undefined
      if (alg === 'HS256') payload = (await jwtVerify(token, key, sharedSecretOptions)).payload
      else if (keySet && typeof alg === 'string' && JWKS_ALGORITHMS.includes(alg))
        payload = (await jwtVerify(token, keySet, keySetOptions)).payload
      if (payload) return { identity: identityOf(payload), exp: payload.exp! }
    } catch (error) {
      throw toAuthError(error)
    }
    throw new Unauthenticated('malformed', 'Token algorithm is not accepted')
  }

  // A session sends the same header on every request: what it verified to is
  // kept, by the header's exact text, until the token's exp (never into the
  // clock-skew allowance), so repeats skip the parsing and the signature
  // check. Bounded; oldest out first. Only `Bearer <token>` with one space is
  // kept: the padded spellings the parser also accepts would let one token
  // take any number of entries, each as long as a header may be.
  const verified = new Map<string, { identity: Identity; exp: number }>()

  async function verifyAndKeep(authorization: string | undefined): Promise<Identity> {
    const token = bearerToken(authorization)
    const result = await verify(token)
    if (authorization?.length === token.length + 'Bearer '.length) {
      verified.set(authorization, result)
      if (verified.size > VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!)
    }
    return result.identity
  }

  return {
    // A header already verified is answered without a promise: most requests.
    verifyBearer(authorization) {
      const known = authorization === undefined ? undefined : verified.get(authorization)
      if (known && known.exp > Date.now() / 1000) return known.identity
      return verifyAndKeep(authorization)
    },

    async issue(user) {
      // The plugin sets iat itself, to the same second read here.
      const expiresAt = Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_SECONDS
      const token = await signer.sign({ sub: user.id, email: user.email, name: user.name, exp: expiresAt })
      return { token, expiresAt: new Date(expiresAt * 1000) }
    },
  }
}
