import { describe, expect, it } from 'vitest';
import { describeCron } from '../../../src/scheduler/cron-description';

describe('describeCron', () => {
  it.each([
    ['*/10 * * * * *', 'every 10 seconds'],
    ['0 */5 * * * *', 'every 5 minutes, at second 0'],
    ['30 * * * * *', 'every minute, at second 30'],
    ['* * * * * *', 'every second'],
    ['0 0 * * * *', 'every hour, at minute 0, at second 0'],
    ['0 0 0 1 1 *', 'at 00:00:00, on day 1 of the month, in January'],
    ['0 30 9 * * 1-5', 'at 09:30:00, on Monday through Friday'],
    ['0 0 */2 * * *', 'every 2 hours, at minute 0, at second 0'],
    ['0 15,45 8-17 * * mon-fri', 'at hour 8 through 17, at minute 15 and 45, at second 0, on Monday through Friday'],
    ['0 0 12 1,15 jan,jul sun', 'at 12:00:00, on day 1 and 15 of the month, in January and July, on Sunday'],
    ['0 0', 'cron "0 0"'],
  ])('%s reads "%s"', (cron, words) => {
    expect(describeCron(cron)).toBe(words);
  });
});
