import { AppError, ErrorCode } from '../errors'

/** The cursor names changes the feed no longer remembers: sync again without one. */
export class CursorExpired extends AppError {
  constructor() {
    super(ErrorCode.CURSOR_EXPIRED, 'The cursor has expired: sync again without a cursor for a full snapshot')
  }
}
