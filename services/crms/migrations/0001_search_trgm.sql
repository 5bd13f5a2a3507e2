-- Literal substring search (ILIKE '%…%') on name, e-mail and phone, served by trigram GIN indexes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "customers_full_name_trgm_idx" ON "customers" USING gin ("full_name" gin_trgm_ops);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "customers_email_trgm_idx" ON "customers" USING gin ("email" gin_trgm_ops);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "customers_contact_number_trgm_idx" ON "customers" USING gin ("contact_number" gin_trgm_ops);
