CREATE TABLE "lists" (
	"user_id" text NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "lists_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9007199254740991 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"color" text,
	"is_default" boolean DEFAULT false NOT NULL,
	"position" text COLLATE "C" NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lists_user_id_id_pk" PRIMARY KEY("user_id","id")
);
--> statement-breakpoint
ALTER TABLE "task_quotas" ADD COLUMN "list_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "list_id" bigint;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "parent_id" bigint;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "position" text COLLATE "C";--> statement-breakpoint
-- Tasks made before lists: each user holding tasks gets a default list (Inbox)
-- holding them all, top level, in the order they were created. Their positions
-- are the keys fractional-indexing gives N items in a row (a0..az, b00..bzz,
-- c000..); no other column of a task changes.
INSERT INTO "lists" ("user_id", "name", "is_default", "position")
  SELECT DISTINCT "user_id", 'Inbox', true, 'a0' FROM "tasks";--> statement-breakpoint
-- Every user with a list has a quota row counting it (and their tasks, where
-- no row counted them yet): the row is also the lock that orders a user's writes.
INSERT INTO "task_quotas" ("user_id", "task_count", "list_count")
  SELECT "user_id", count(*), 1 FROM "tasks" GROUP BY "user_id"
  ON CONFLICT ("user_id") DO UPDATE SET "list_count" = 1;--> statement-breakpoint
UPDATE "tasks" SET "list_id" = "placed"."list_id", "position" = "placed"."position"
  FROM (
    SELECT "numbered"."user_id", "numbered"."id", "lists"."id" AS "list_id",
      CASE
        WHEN "n" < 62 THEN 'a' || substr("digits", "n" + 1, 1)
        WHEN "n" < 3906 THEN 'b' || substr("digits", ("n" - 62) / 62 + 1, 1) || substr("digits", ("n" - 62) % 62 + 1, 1)
        ELSE 'c' || substr("digits", ("n" - 3906) / 3844 + 1, 1) || substr("digits", ("n" - 3906) / 62 % 62 + 1, 1)
          || substr("digits", ("n" - 3906) % 62 + 1, 1)
      END AS "position"
    FROM (
      SELECT "user_id", "id", (row_number() OVER (PARTITION BY "user_id" ORDER BY "created_at", "id") - 1)::int AS "n",
        '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'::text AS "digits"
      FROM "tasks"
    ) AS "numbered"
    JOIN "lists" ON "lists"."user_id" = "numbered"."user_id" AND "lists"."is_default"
  ) AS "placed"
  WHERE "tasks"."user_id" = "placed"."user_id" AND "tasks"."id" = "placed"."id";--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "list_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "position" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "lists_id_idx" ON "lists" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "lists_one_default_idx" ON "lists" USING btree ("user_id") WHERE "lists"."is_default";--> statement-breakpoint
CREATE UNIQUE INDEX "lists_user_position_idx" ON "lists" USING btree ("user_id","position");--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_user_id_list_id_lists_user_id_id_fk" FOREIGN KEY ("user_id","list_id") REFERENCES "public"."lists"("user_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_user_id_parent_id_tasks_user_id_id_fk" FOREIGN KEY ("user_id","parent_id") REFERENCES "public"."tasks"("user_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_sibling_position_idx" ON "tasks" USING btree ("user_id","list_id",coalesce("parent_id", 0),"position");