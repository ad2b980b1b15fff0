import { AppError, ErrorCode } from '../errors'

export class IdempotencyKeyReused extends AppError {
  constructor() {
    super(
      ErrorCode.IDEMPOTENCY_KEY_REUSED,
      'This Idempotency-Key was used for a different request (method, path or body) in the last 24 hours: use a new key',
    )
  }
}

export class IdempotencyKeyInFlight extends AppError {
  constructor() {
    super(ErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT, 'A request with this Idempotency-Key is still running: retry shortly for its answer', 1)
  }
}
