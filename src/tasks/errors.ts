import { AppError, ErrorCode } from '../errors'

export class TaskNotFound extends AppError {
  constructor() {
    super(ErrorCode.TASK_NOT_FOUND, 'Task not found')
  }
}

export class TaskLimitReached extends AppError {
  constructor(limit: number) {
    super(ErrorCode.TASK_LIMIT_REACHED, `Task limit reached: a user holds at most ${limit} tasks`)
  }
}
