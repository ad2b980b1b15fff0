-- Ids travel as JSON numbers, exact up to 2^53 - 1: the sequence stops there
-- rather than hand out ids that answers would round.
ALTER TABLE "tasks" ALTER COLUMN "id" SET MAXVALUE 9007199254740991;