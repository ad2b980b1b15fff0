import { AppError, ErrorCode } from '../errors'

export class ListNotFound extends AppError {
  constructor() {
    super(ErrorCode.LIST_NOT_FOUND, 'List not found')
  }
}

export class ListLimitReached extends AppError {
  constructor(limit: number) {
    super(ErrorCode.LIST_LIMIT, `List limit reached: a user holds at most ${limit} lists`)
  }
}

/** The default list holds tasks made without a list: it stays, and stays first. */
export class DefaultListProtected extends AppError {
  constructor(action: 'deleted' | 'moved') {
    super(ErrorCode.DEFAULT_LIST, `The default list cannot be ${action}`)
  }
}
