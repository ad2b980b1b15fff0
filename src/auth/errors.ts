import { AppError, ErrorCode } from '../errors'

export type TokenProblem = 'missing' | 'malformed' | 'expired' | 'signature' | 'claims'

/** 401: the bearer token is missing or not accepted; the detail never echoes the token. */
export class Unauthenticated extends AppError {
  constructor(
    readonly problem: TokenProblem,
    detail: string,
  ) {
    super(
      problem === 'missing' ? ErrorCode.TOKEN_MISSING : problem === 'expired' ? ErrorCode.TOKEN_EXPIRED : ErrorCode.TOKEN_INVALID,
      detail,
    )
  }
}

export class EmailTaken extends AppError {
  constructor() {
    super(ErrorCode.EMAIL_TAKEN, 'Email already registered')
  }
}

/** One answer for an unknown email and a wrong password: nothing tells them apart. */
export class InvalidCredentials extends AppError {
  constructor() {
    super(ErrorCode.INVALID_CREDENTIALS, 'Invalid email or password')
  }
}

export class RateLimited extends AppError {
  constructor(retryAfterSeconds: number) {
    super(ErrorCode.RATE_LIMITED, `Too many attempts; try again in ${retryAfterSeconds} s`, retryAfterSeconds)
  }
}

/** Better Auth's key set could not be fetched: the token may be valid, we cannot tell. */
export class AuthUnavailable extends AppError {
  constructor() {
    super(ErrorCode.AUTH_UNAVAILABLE, 'The token key set cannot be reached; try again shortly', 5)
  }
}

/** Password hashing is at capacity: shed load fast rather than queue without end. */
export class ServerBusy extends AppError {
  constructor() {
    super(ErrorCode.SERVER_BUSY, 'The server is busy; try again shortly', 1)
  }
}
