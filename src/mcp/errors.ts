import { AppError, ErrorCode } from '../errors'

/** A tool's user_id argument names someone other than the token's subject: a tool acts only for the signed-in user. */
export class NotTheSignedInUser extends AppError {
  constructor() {
    super(ErrorCode.FORBIDDEN, "user_id is not the signed-in user's id: the tools act only for the user the token was issued to")
  }
}
