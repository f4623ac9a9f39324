/**
 * PostgreSQL COPY text format: columns separated by tabs, rows by newlines, NULL as \N, and backslash,
 * tab, newline and carriage return escaped inside values.
 */
const SPECIAL = /[\\\t\n\r]/;

export function copyValue(v: string | null): string {
  if (v === null) return '\\N';
  if (!SPECIAL.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
