import { AppError, ErrorCode } from '../errors'

export class WebhookNotFound extends AppError {
  constructor() {
    super(ErrorCode.WEBHOOK_NOT_FOUND, 'Webhook not found')
  }
}

export class WebhookLimitReached extends AppError {
  constructor(limit: number) {
    super(ErrorCode.WEBHOOK_LIMIT, `Webhook limit reached: a user holds at most ${limit} webhooks`)
  }
}
