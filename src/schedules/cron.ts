import { CronExpressionParser } from 'cron-parser';
import { UsageError } from '../errors.ts';

/**
 * Cron expressions of recurring campaigns: five fields (minute hour day month weekday, `0 9 * * MON`),
 * or six with seconds first, evaluated in an IANA time zone (default UTC), so "9 am in Jakarta" stays
 * 9 am there. Pure; cron-parser does the calendar arithmetic (pg-boss ships it too).
 */
export function checkZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new UsageError(`--tz ${tz}: not a time zone; use an IANA name such as Asia/Jakarta or UTC`);
  }
  return tz;
}

/** The first firing strictly after `after`. Throws a UsageError naming what is wrong with the expression. */
export function nextFiring(expr: string, tz: string, after: Date): Date {
  checkZone(tz);
  const fields = expr.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    throw new UsageError(`--cron "${expr}": expected 5 fields (minute hour day-of-month month day-of-week), e.g. "0 9 * * MON"`);
  }
  try {
    return CronExpressionParser.parse(expr, { currentDate: after, tz }).next().toDate();
  } catch (err) {
    throw new UsageError(`--cron "${expr}": ${(err as Error).message}`);
  }
}
