import { AppError, ErrorCode } from '../errors'

export class TooManyStreams extends AppError {
  constructor(limit: number) {
    super(ErrorCode.TOO_MANY_STREAMS, `At most ${limit} live streams per user: close one first`, 5)
  }
}
