/** Synthetic churn data matching config/pipeline.json's columns, with a learnable signal (test fixture generator). */
import { seededRandom } from '../../runtime/training/data';

export const CHURN_HEADER = ['id', 'age', 'spend', 'tenure', 'plan', 'region', 'tickets', 'signup_time', 'churned'];

export function churnCsv(rows: number, seed = 1): string {
  const random = seededRandom(seed);
  const plans = ['basic', 'standard', 'premium'];
  const regions = ['eu', 'us', 'apac', 'latam'];
  const lines = [CHURN_HEADER.join(',')];
  for (let i = 1; i <= rows; i++) {
    const age = 18 + Math.floor(random() * 60);
    const tenure = Math.floor(random() * 120);
    const plan = plans[Math.floor(random() * 3)];
    const region = regions[Math.floor(random() * 4)];
    const tickets = Math.floor(random() * random() * 10);
    const spend = random() < 0.05 ? '' : (10 + random() * 90).toFixed(2);
    const logit = -1 + 0.35 * tickets - 0.025 * tenure + (plan === 'basic' ? 0.8 : plan === 'premium' ? -0.6 : 0) + (region === 'apac' ? 0.4 : 0) + (random() - 0.5);
    const churned = random() < 1 / (1 + Math.exp(-logit)) ? 'yes' : 'no';
    lines.push([i, age, spend, tenure, plan, region, tickets, '2024-01-01T00:00:00Z', churned].join(','));
  }
  return lines.join('\n') + '\n';
}
