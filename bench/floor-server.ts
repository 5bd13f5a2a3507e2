/**
 * The floor of CRMS's internal create: only its unavoidable INSERT … ON CONFLICT (and fallback select), no validation,
 * envelope, key or logging (docs/benchmarks.md, "CRMS internal create vs the floor").
 *   DATABASE_URL=postgres://… | memory:// | <dir>  PORT=…  DB_POOL_SIZE=10  tsx bench/floor-server.ts
 */
import Fastify from 'fastify';
import { newObjectId, openDatabase, preparedStatement } from '@shop/service-kit';
import { fileURLToPath } from 'node:url';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../services/crms/migrations', import.meta.url));
// The same journal table as CRMS, so that pointing the floor at a CRMS database finds it already migrated.
const MIGRATIONS_TABLE = '__crms_migrations';

const handle = await openDatabase({
  url: process.env.DATABASE_URL ?? 'memory://',
  defaultDir: 'memory://',
  migrationsFolder: MIGRATIONS_FOLDER,
  migrationsTable: MIGRATIONS_TABLE,
  poolSize: Number(process.env.DB_POOL_SIZE ?? 10),
});

interface Body {
  userId: string;
  email: string;
  fullName: string;
  contactNumber: string;
}

const app = Fastify({ logger: false });

const INSERT = `INSERT INTO customers (id, user_id, email, full_name, contact_number)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (user_id) DO NOTHING
  RETURNING *`;
const SELECT = 'SELECT * FROM customers WHERE user_id = $1 LIMIT 1';

// The kit's driver call, the same one CRMS's hot path uses: a named prepared statement on PostgreSQL.
const insert = preparedStatement(handle.db, 'floor_insert', INSERT);
const select = preparedStatement(handle.db, 'floor_select', SELECT);

app.post('/floor/create', async (request) => {
  const body = request.body as Body;
  const [inserted] = await insert([newObjectId(), body.userId, body.email, body.fullName, body.contactNumber]);
  if (inserted) return inserted;
  const [existing] = await select([body.userId]);
  return existing;
});

// The database is open before it listens: live is ready (what the bench's ServiceProcess waits for).
app.get('/health', async () => ({ ok: true }));
app.get('/health/ready', async () => ({ ok: true }));

await app.listen({ port: Number(process.env.PORT ?? 5099), host: process.env.HOST ?? '127.0.0.1' });

const shutdown = () => {
  void app.close().then(() => handle.close()).finally(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
