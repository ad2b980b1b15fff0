CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"full_at" timestamp(3) with time zone NOT NULL,
	"taken" boolean NOT NULL
);
