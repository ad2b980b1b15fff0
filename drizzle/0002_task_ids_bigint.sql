-- Rewrites the table and its indexes under an exclusive lock. Changing an identity column's type
-- changes its sequence's type too (AS bigint); MAXVALUE then states the new ceiling.
ALTER TABLE "tasks" ALTER COLUMN "id" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "id" SET MAXVALUE 9223372036854775807;
