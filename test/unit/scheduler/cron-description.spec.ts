import { describe, expect, it } from 'vitest';
import { describeCron } from '../../../src/scheduler/cron-description';

describe('describeCron', () => {
  it.each([
    ['*/10 * * * * *', 'Every 10 seconds'],
    ['0 */5 * * * *', 'Every 5 minutes'],
    ['30 * * * * *', 'At 30 seconds past the minute'],
    ['0 0 0 1 1 *', 'At 00:00, on day 1 of the month, only in January'],
    ['0 0 1 1 *', 'At 00:00, on day 1 of the month, only in January'],
    ['0 30 9 * * 1-5', 'At 09:30, Monday through Friday'],
    ['0 0 */2 * * *', 'On the hour, every 2 hours'],
    ['0 15,45 8-17 * * mon-fri', 'At 15 and 45 minutes past the hour, between 08:00 and 17:59, Monday through Friday'],
    ['0 0', 'cron "0 0"'],
  ])('%s reads "%s"', (cron, words) => {
    expect(describeCron(cron)).toBe(words);
  });
});
