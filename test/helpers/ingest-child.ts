// A separate process that validates one campaign's upload, so a test can SIGKILL it mid-way or read its
// peak memory. argv: DATABASE_URL campaignId. Prints {"rows":…,"maxRssMb":…} when done.
import { createPool } from '../../src/db/executor.ts';
import { createLogger } from '../../src/log.ts';
import { processIngest } from '../../src/ingest/process.ts';

const [url, id] = process.argv.slice(2);
const pool = createPool(url!, { max: 4 });
const summary = await processIngest(pool, id!, createLogger('warn', { pretty: false }));
await pool.end();
process.stdout.write(JSON.stringify({ rows: summary?.rows ?? null, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
