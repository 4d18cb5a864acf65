import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { loadEventsConfig } from '../../../src/config';
import { matchesType, unmatchedTypePatterns, unmatchedTypesRule } from '../../../src/events/event-types';
import { nextRetryDelayMs } from '../../../src/events/retry-schedule';
import { signWebhook } from '../../../src/events/webhook-signer';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function load(env: Record<string, string>) {
  const problems: string[] = [];
  return { config: loadEventsConfig(env, problems), problems };
}

describe('event configuration', () => {
  it('has the documented defaults', () => {
    const { config, problems } = load({});
    expect(problems).toStrictEqual([]);
    expect(config).toStrictEqual({
      source: 'urn:tidemark',
      failureRepeat: 10,
      retentionDays: 7,
      webhooks: [],
      retryScheduleMs: [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    });
  });

  it('reads a valid WEBHOOKS entry, decoding the secret', () => {
    const { config, problems } = load({
      WEBHOOKS: JSON.stringify([
        { name: 'erp', url: 'https://hooks.example.com/t', secret: SECRET, types: ['tidemark.*'] },
      ]),
    });
    expect(problems).toStrictEqual([]);
    expect(config.webhooks).toStrictEqual([
      {
        name: 'erp',
        url: 'https://hooks.example.com/t',
        key: Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'),
        types: ['tidemark.*'],
      },
    ]);
  });

  it('names the element, field and rule of each bad WEBHOOKS entry, without echoing secrets or URLs', () => {
    const { problems } = load({
      WEBHOOKS: JSON.stringify([
        { name: 'a', url: 'ftp://x.example/', secret: SECRET, types: ['tidemark.*'] },
        { name: 'a', url: 'http://ok.example/', secret: 'whsec_short', types: ['Bad Type'], extra: 1 },
      ]),
      EVENT_FAILURE_REPEAT: '0',
      EVENT_RETENTION_DAYS: 'week',
      WEBHOOK_RETRY_SCHEDULE: '1s,soon',
    });
    expect(problems).toStrictEqual([
      'EVENT_FAILURE_REPEAT: must be an integer from 1 to 1000000 (got "0")',
      'EVENT_RETENTION_DAYS: must be an integer from 1 to 3650 (got "week")',
      'WEBHOOKS[0].url: must be an absolute http: or https: URL without a fragment',
      'WEBHOOKS[1].extra: is not a known setting',
      'WEBHOOKS[1].name: must be unique (a repeats)',
      'WEBHOOKS[1].secret: must be "whsec_" followed by standard base64 of 24 to 64 bytes',
      'WEBHOOKS[1].types: must be a non-empty array of event types, each exact (tidemark.watermark.advanced) or ending in * (tidemark.watermark.*)',
      'WEBHOOK_RETRY_SCHEDULE: must be a comma-separated list of waits such as 0,5s,5m,2h (ms when no unit; each at most 7 days)',
    ]);
    expect(problems.join('\n')).not.toContain('whsec_short');
  });

  it('refuses WEBHOOKS types that match no event type, naming each', () => {
    const { problems } = load({
      WEBHOOKS: JSON.stringify([
        {
          name: 'a',
          url: 'http://ok.example/',
          secret: SECRET,
          types: ['tidemark.watermark.*', 'tidemark.runs.*', 'orders'],
        },
      ]),
    });
    expect(problems).toStrictEqual([
      'WEBHOOKS[0].types: must name event types Tidemark emits (tidemark.runs.*, orders match none)',
    ]);
  });

  it('rejects WEBHOOKS that is not a JSON array', () => {
    expect(load({ WEBHOOKS: '{' }).problems).toStrictEqual(['WEBHOOKS: must be valid JSON']);
    expect(load({ WEBHOOKS: '{}' }).problems).toStrictEqual([
      'WEBHOOKS: must be a JSON array of {"name", "url", "secret", "types"} objects',
    ]);
  });
});

describe('webhook signing and retries', () => {
  it('signs as Standard Webhooks 1.0, which the standardwebhooks library verifies', () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const body = JSON.stringify({ specversion: '1.0', id: '42' });
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(Buffer.from(secret.slice(6), 'base64'), { id: '42', timestampSeconds: now, body });
    expect(headers['webhook-id']).toBe('42');
    expect(headers['webhook-timestamp']).toBe(String(now));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toStrictEqual({ specversion: '1.0', id: '42' });
  });

  it('waits per the schedule with ±20 % jitter, then gives up', () => {
    const schedule = [0, 5_000, 300_000];
    expect(nextRetryDelayMs(schedule, 1, 0.5)).toBe(0);
    expect(nextRetryDelayMs(schedule, 2, 0)).toBe(4_000);
    expect(nextRetryDelayMs(schedule, 2, 0.5)).toBe(5_000);
    expect(nextRetryDelayMs(schedule, 3, 0.75)).toBe(330_000);
    expect(nextRetryDelayMs(schedule, 4, 0.5)).toBe(null);
  });

  it('matches exact types and prefixes ending in *', () => {
    expect(matchesType(['tidemark.watermark.*'], 'tidemark.watermark.advanced')).toBe(true);
    expect(matchesType(['tidemark.watermark.*'], 'tidemark.run.failed')).toBe(false);
    expect(matchesType(['tidemark.run.failed'], 'tidemark.run.failed')).toBe(true);
    expect(matchesType(['*'], 'tidemark.integration.stale')).toBe(true);
  });

  it('names at most five unmatched patterns, each at most 64 characters, with the verb in number', () => {
    expect(unmatchedTypesRule(['bogus'])).toBe('must name event types Tidemark emits (bogus matches none)');
    const many = ['a', 'b', 'c', 'd', `e${'x'.repeat(80)}`, 'f', 'g'];
    expect(unmatchedTypesRule(many)).toBe(
      `must name event types Tidemark emits (a, b, c, d, e${'x'.repeat(63)}… and 2 more match none)`,
    );
  });

  it('names the patterns that match no event type', () => {
    expect(
      unmatchedTypePatterns(['*', 'tidemark.*', 'tidemark.run.failed', 'tidemark.run', 'tidemark.runs*']),
    ).toStrictEqual(['tidemark.run', 'tidemark.runs*']);
  });
});
