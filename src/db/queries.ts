import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `sql/queries/*.sql`, each query a block that starts with `-- name: entity_verb_qualifier`. */
export const QUERIES_DIR = fileURLToPath(new URL('../../sql/queries/', import.meta.url));

const NAME_LINE = /^--\s*name:\s*([a-z][a-z0-9_]*)\s*$/;

/**
 * Load every named query once. A duplicate name, or a block with no SQL, fails at start-up rather than
 * at the first call, as listmonk and River do.
 */
export function loadQueries(dir: string = QUERIES_DIR): Map<string, string> {
  const queries = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    let name: string | null = null;
    let body: string[] = [];
    const flush = () => {
      if (name === null) return;
      const text = body.join('\n').trim();
      if (!text) throw new Error(`sql/queries/${file}: query ${name} is empty`);
      if (queries.has(name)) throw new Error(`sql/queries/${file}: query ${name} is defined twice`);
      queries.set(name, text);
    };
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const m = NAME_LINE.exec(line);
      if (m) {
        flush();
        name = m[1]!;
        body = [];
      } else if (name !== null) {
        body.push(line);
      }
    }
    flush();
  }
  return queries;
}

let cache: Map<string, string> | null = null;

/** The SQL text of a named query; throws on an unknown name. */
export function sql(name: string): string {
  cache ??= loadQueries();
  const text = cache.get(name);
  if (text === undefined) throw new Error(`unknown query ${name}`);
  return text;
}
