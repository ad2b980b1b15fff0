import { errors, jwtVerify, type JWTPayload } from 'jose'
import { Unauthenticated } from '../http/errors'

export const CLOCK_SKEW_SECONDS = 30
// Longer than any id Better Auth or this service issues; bounds what reaches SQL.
const MAX_SUBJECT_LENGTH = 255

export interface TokenOptions {
  secret: string
  issuer?: string
  audience?: string
}

export type BearerVerifier = (authorization: string | undefined) => Promise<string>

/** The HMAC key, imported once: importing per request is a measurable cost. */
export function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ])
}

function toUnauthenticated(error: unknown): Unauthenticated {
  if (error instanceof Unauthenticated) return error
  if (error instanceof errors.JWTExpired) return new Unauthenticated('expired', 'Token has expired')
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new Unauthenticated('signature', 'Token signature is invalid')
  if (error instanceof errors.JOSEAlgNotAllowed) return new Unauthenticated('malformed', 'Token algorithm is not accepted')
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return new Unauthenticated('claims', `Token is missing the ${error.claim} claim`)
    if (error.claim === 'nbf') return new Unauthenticated('claims', 'Token is not valid yet')
    return new Unauthenticated('claims', `Token ${error.claim} claim is not accepted`)
  }
  return new Unauthenticated('malformed', 'Token is malformed')
}

function subjectOf(payload: JWTPayload): string {
  const { sub, iat } = payload
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH)
    throw new Unauthenticated('claims', 'Token sub claim is not accepted')
  // jose checks a future iat only together with maxTokenAge; the contract wants it always.
  if (typeof iat === 'number' && iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS)
    throw new Unauthenticated('claims', 'Token is not valid yet')
  return sub
}

/**
 * Verifies `Authorization: Bearer <jwt>` and returns the token's `sub`.
 * The algorithm is pinned, `sub` and `exp` are required, and `iss`/`aud`
 * are checked when configured.
 */
export async function createBearerVerifier(options: TokenOptions): Promise<BearerVerifier> {
  const key = await importSecret(options.secret)
  const verifyOptions = {
    algorithms: ['HS256'],
    requiredClaims: ['sub', 'exp'],
    clockTolerance: CLOCK_SKEW_SECONDS,
    issuer: options.issuer,
    audience: options.audience,
  }
  return async (authorization) => {
    const match = authorization?.match(/^Bearer +([^\s]+) *$/i)
    if (!match) {
      throw authorization
        ? new Unauthenticated('malformed', 'Authorization header must be "Bearer <token>"')
        : new Unauthenticated('missing', 'Missing bearer token')
    }
    try {
      const { payload } = await jwtVerify(match[1]!, key, verifyOptions)
      return subjectOf(payload)
    } catch (error) {
      throw toUnauthenticated(error)
    }
  }
}
