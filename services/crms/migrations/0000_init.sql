CREATE TABLE "customer_status_changes" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"previous_status" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"changed_by" text NOT NULL,
	"changed_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customers" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"email" text NOT NULL,
	"full_name" text NOT NULL,
	"contact_number" text NOT NULL,
	"customer_status" text DEFAULT 'Active' NOT NULL,
	"customer_type" text DEFAULT 'Regular' NOT NULL,
	"total_orders" integer DEFAULT 0 NOT NULL,
	"total_order_value" numeric(14, 2) DEFAULT 0 NOT NULL,
	"total_complaints" integer DEFAULT 0 NOT NULL,
	"open_complaints" integer DEFAULT 0 NOT NULL,
	"last_order_date" timestamp (3) with time zone,
	"last_complaint_date" timestamp (3) with time zone,
	"customer_since" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"notes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"preferences" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"updated_by" text,
	"deleted_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customers_status_check" CHECK ("customers"."customer_status" in ('Active', 'Inactive', 'Suspended')),
	CONSTRAINT "customers_type_check" CHECK ("customers"."customer_type" in ('Regular', 'Premium', 'VIP')),
	CONSTRAINT "customers_counters_check" CHECK ("customers"."total_orders" >= 0 and "customers"."total_order_value" >= 0 and "customers"."total_complaints" >= 0 and "customers"."open_complaints" >= 0)
);
--> statement-breakpoint
ALTER TABLE "customer_status_changes" ADD CONSTRAINT "customer_status_changes_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "customer_status_changes_customer_idx" ON "customer_status_changes" USING btree ("customer_id","changed_at");--> statement-breakpoint
CREATE UNIQUE INDEX "customers_user_id_key" ON "customers" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "customers_status_idx" ON "customers" USING btree ("customer_status");--> statement-breakpoint
CREATE INDEX "customers_type_idx" ON "customers" USING btree ("customer_type");--> statement-breakpoint
CREATE INDEX "customers_customer_since_idx" ON "customers" USING btree ("customer_since");--> statement-breakpoint
CREATE INDEX "customers_created_at_idx" ON "customers" USING btree ("created_at");