import { seededRandom } from '../common/random';

/** The deterministic customer-churn dataset the sample API serves; row `id` is generated on its own (random access). */

export const PLANS = ['basic', 'standard', 'premium'] as const;
export const REGIONS = ['north', 'south', 'east', 'west', 'central'] as const;

/** Source field names, as config/parser.json's field_mappings expects them (plus `email`, which is not selected). */
export const SAMPLE_FIELDS = [
  'customer_id',
  'customer_age',
  'monthly_spend',
  'tenure_months',
  'plan_name',
  'region',
  'support_tickets',
  'signup_ts',
  'churned',
  'email',
] as const;

export type SampleRow = Record<(typeof SAMPLE_FIELDS)[number], string | number | null>;

const SIGNUP_EPOCH = Date.UTC(2020, 0, 1);
const DAY = 86_400_000;

/**
 * Row `id` (1-based) of the dataset for `seed`. The churn label follows a logistic model of support
 * tickets, tenure, plan, spend and age, so a small model can learn it; about 0.5% of rows are dirty
 * (age out of range, unknown plan, missing region, non-numeric spend) for validation to quarantine.
 */
export function sampleRow(id: number, seed = 42): SampleRow {
  const rand = seededRandom(Math.imul(seed, 0x9e3779b1) ^ Math.imul(id, 0x85ebca6b));
  const age = 18 + Math.floor(rand() * 62);
  const tenure = Math.floor(rand() * 121);
  const planRoll = rand();
  const plan = planRoll < 0.5 ? 'basic' : planRoll < 0.8 ? 'standard' : 'premium';
  const region = REGIONS[Math.floor(rand() * REGIONS.length)];
  const baseSpend = plan === 'basic' ? 25 : plan === 'standard' ? 55 : 95;
  const spend = Math.round((baseSpend + (rand() - 0.5) * 30) * 100) / 100;
  const spendMissing = rand() < 0.03;
  let tickets = 0;
  while (tickets < 12 && rand() < 0.45) tickets += 1;
  const signup = new Date(SIGNUP_EPOCH + Math.floor(rand() * 1800) * DAY + Math.floor(rand() * DAY)).toISOString();
  const planEffect = plan === 'basic' ? 0.9 : plan === 'premium' ? -0.9 : 0;
  const logit = -0.9 + 1.1 * tickets - 0.05 * tenure + 1.4 * planEffect - 0.045 * (age - 45) + 0.03 * (spend - 50);
  const churned = rand() < 1 / (1 + Math.exp(-logit)) ? 'yes' : 'no';
  const row: SampleRow = {
    customer_id: id,
    customer_age: age,
    monthly_spend: spendMissing ? null : spend,
    tenure_months: tenure,
    plan_name: plan,
    region,
    support_tickets: tickets,
    signup_ts: signup,
    churned,
    email: `customer${id}@example.com`,
  };
  const dirt = rand();
  if (dirt < 0.005) {
    const kind = Math.floor((dirt / 0.005) * 4);
    if (kind === 0) row.customer_age = rand() < 0.5 ? 7 : 142;
    else if (kind === 1) row.plan_name = 'gold';
    else if (kind === 2) row.region = null;
    else row.monthly_spend = 'n/a';
  }
  return row;
}
