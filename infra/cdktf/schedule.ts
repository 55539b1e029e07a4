/**
 * config's ingestion_schedule is written for AWS EventBridge: `cron(min hour dom month dow year)`.
 * Cloud Scheduler and Container Apps jobs take a 5-field unix cron; this converts one to the other.
 */

const AWS_CRON = /^cron\((.+)\)$/;
const AWS_DAY_NUMBERS = /^[1-7](?:[-,][1-7])*$/;

/** Carries its catalogue code itself, like config's ConfigError (infra does not import runtime/common). */
export class ScheduleError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 2;

  constructor(value: string, reason: string) {
    super(`ingestion_schedule "${value}" cannot be used on GCP/Azure: ${reason}`);
    this.name = 'ScheduleError';
  }
}

/** `cron(0 2 * * ? *)` -> `0 2 * * *`; a 5-field unix cron passes through unchanged. */
export function toUnixCron(schedule: string): string {
  const trimmed = schedule.trim();
  const aws = AWS_CRON.exec(trimmed);
  if (!aws) {
    if (trimmed.split(/\s+/).length === 5) return trimmed;
    throw new ScheduleError(schedule, 'expected "cron(min hour day month weekday year)" or a 5-field unix cron such as "0 2 * * *"');
  }
  const fields = aws[1]!.trim().split(/\s+/);
  if (fields.length !== 6) throw new ScheduleError(schedule, `an AWS cron expression has 6 fields, found ${fields.length}`);
  const [minute, hour, dayOfMonth, month, dayOfWeek, year] = fields as [string, string, string, string, string, string];
  if (year !== '*') throw new ScheduleError(schedule, 'a year field other than "*" has no unix cron equivalent');
  if (/[LW#]/.test(dayOfMonth + dayOfWeek)) throw new ScheduleError(schedule, 'L, W and # have no unix cron equivalent');
  const unixDayOfWeek = AWS_DAY_NUMBERS.test(dayOfWeek)
    ? dayOfWeek.replace(/[1-7]/g, (d) => String(Number(d) - 1)) // AWS counts Sunday as 1, unix as 0
    : dayOfWeek;
  return [minute, hour, dayOfMonth.replace('?', '*'), month, unixDayOfWeek.replace('?', '*')].join(' ');
}
