import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const RULES = join(process.cwd(), 'deploy/prometheus/alerts.yml');
const RULE_TESTS = join(process.cwd(), 'deploy/prometheus/alerts.test.yml');

/** promtool ships in Debian's `prometheus` package (`apt-get install prometheus`); CI installs it. */
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
/** The metric names Tidemark exposes that the rules may use (src/observability/metrics.service.ts). */
const TIDEMARK_METRICS = new Set([
  'tidemark_watermark_lag_seconds',
  'tidemark_last_success_timestamp_seconds',
  'tidemark_consecutive_failures',
  'tidemark_integration_paused',
  'tidemark_upstream_breaker_state',
  'tidemark_watermark_regressions_total',
  'tidemark_state_read_success',
  'tidemark_runs_total',
  'tidemark_config_info',
]);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('deploy/prometheus/alerts.yml', () => {
  const document = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  const rules = document.groups.flatMap((group) => group.rules);

  it('has the structure Prometheus loads: groups of named rules with expr, for, labels and annotations', () => {
    expect(Object.keys(document)).toStrictEqual(['groups']);
    for (const group of document.groups) {
      expect(group.name).toEqual(expect.any(String));
      expect(group.rules.length).toBeGreaterThan(0);
      for (const rule of group.rules) {
        expect(Object.keys(rule).every((key) => ['alert', 'expr', 'for', 'labels', 'annotations'].includes(key))).toBe(
          true,
        );
        expect(rule.alert).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
        expect(rule.expr.trim()).not.toBe('');
        expect(rule.for).toMatch(/^\d+[smh]$/);
        expect(rule.labels?.severity).toMatch(/^(warning|critical)$/);
        expect(rule.annotations).toMatchObject({ summary: expect.any(String), description: expect.any(String) });
      }
    }
  });

  it('defines IntegrationWatermarkStale on the lag gauge and IntegrationFailing on consecutive failures', () => {
    const byName = new Map(rules.map((rule) => [rule.alert, rule]));
    expect(byName.get('IntegrationWatermarkStale')?.expr).toContain('tidemark_watermark_lag_seconds');
    expect(byName.get('IntegrationFailing')?.expr).toMatch(/tidemark_consecutive_failures\)?\s*>=\s*\d+/);
    for (const rule of rules) {
      for (const name of rule.expr.match(/\btidemark_[a-z_]+/g) ?? [])
        expect([rule.alert, TIDEMARK_METRICS.has(name)]).toStrictEqual([rule.alert, true]);
    }
  });

  it.runIf(promtool)('passes promtool check rules', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toContain('SUCCESS');
  });

  it.runIf(promtool)('passes its promtool unit tests (alerts.test.yml)', () => {
    const result = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});
