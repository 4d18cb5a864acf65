import { describe, expect, it } from 'vitest';
import { integrationNameKey, sameIntegrationName } from '../../../src/common/integration-name';
import { ConfigError, loadConfig } from '../../../src/config';
import { UpstreamIdentityMismatchError, assertSameIntegration, type IntegrationStatus } from '../../../src/upstream';

/** [a, b, same?, why]: SQL Server's default collation, as the upstream compares IntegrationNames. */
const PAIRS: Array<[string, string, boolean, string]> = [
  ['Orders', 'Orders', true, 'identical'],
  ['Orders', 'orders', true, 'case'],
  ['Orders', 'ORDERS', true, 'case'],
  ['Orders', 'Orders ', true, 'one trailing space'],
  ['Orders', 'Orders   ', true, 'several trailing spaces'],
  ['Orders', 'Ｏｒｄｅｒｓ', true, 'fullwidth letters'],
  ['Orders', 'ＯＲＤＥＲＳ', true, 'fullwidth capitals'],
  ['Order 1', 'Ｏｒｄｅｒ\u3000１', true, 'fullwidth digit and ideographic space'],
  ['Strasse', 'STRAßE', true, 'sharp s folds to ss'],
  ['straße', 'STRASSE', true, 'sharp s folds to ss, the other way'],
  ['ΣΟΦΟΣ', 'σοφος', true, 'final sigma'],
  ['Órdenes', 'óRDENES', true, 'case of accented letters'],
  ['e\u0301', 'é', true, 'canonically equivalent forms'],
  ['ｶﾞｽ', 'ガス', true, 'halfwidth katakana with voiced mark'],
  ['name', 'name\u200b', false, 'zero-width space'],
  ['name', '\u200bname', false, 'leading zero-width space'],
  ['name', 'na\u00adme', false, 'soft hyphen'],
  ['name', 'name\ufeff', false, 'zero-width no-break space'],
  ['name', 'name\u200d', false, 'zero-width joiner'],
  ['Orders', ' Orders', false, 'leading space'],
  ['Orders', 'Orders\t', false, 'trailing tab is not padding'],
  ['Orders', 'Orders\u00a0', false, 'trailing no-break space is not padding'],
  ['resume', 'résumé', false, 'accents'],
  ['Ordenes', 'Órdenes', false, 'accent on a capital'],
  ['Orders', 'Order', false, 'different letters'],
  ['ı', 'i', false, 'dotless i is its own letter'],
  ['Orders1', 'Orders2', false, 'different digits'],
];

describe('sameIntegrationName', () => {
  it.each(PAIRS)('%j vs %j → %s (%s)', (a, b, same) => {
    expect(sameIntegrationName(a, b)).toBe(same);
    expect(sameIntegrationName(b, a)).toBe(same);
    expect(integrationNameKey(a) === integrationNameKey(b)).toBe(same);
  });

  it('keys ASCII names by their lower case without trailing spaces', () => {
    expect(integrationNameKey('Orders  ')).toBe('orders');
    expect(integrationNameKey('Ｏｒｄｅｒｓ ')).toBe('orders');
    expect(integrationNameKey('STRAßE')).toBe('strasse');
  });
});

describe('the one rule, where names are compared', () => {
  function configProblems(names: string[]): string[] {
    const integrations = names.map((integrationName) => ({ sourceSystemId: 1, integrationName }));
    try {
      loadConfig({ INTEGRATIONS: JSON.stringify(integrations) }, '/');
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  }

  it('makes the configuration refuse names the upstream treats as one', () => {
    expect(configProblems(['Orders', 'Ｏｒｄｅｒｓ', 'Strasse', 'STRAßE'])).toStrictEqual([
      'INTEGRATIONS[1]: duplicates INTEGRATIONS[0] (sourceSystemId 1, integrationName "Ｏｒｄｅｒｓ"; names compare case-insensitively, ignoring trailing spaces)',
      'INTEGRATIONS[3]: duplicates INTEGRATIONS[2] (sourceSystemId 1, integrationName "STRAßE"; names compare case-insensitively, ignoring trailing spaces)',
    ]);
    expect(configProblems(['name', 'name\u200b', 'resume', 'résumé'])).toStrictEqual([]);
  });

  it('makes an answer for a name with an invisible character an answer about another integration', () => {
    const answer = { sourceSystemId: 1, integrationName: 'name\u200b' } as IntegrationStatus;
    expect(() => assertSameIntegration(answer, { sourceSystemId: 1, integrationName: 'name' })).toThrow(
      UpstreamIdentityMismatchError,
    );
    const wide = { sourceSystemId: 1, integrationName: 'ＳＴＲＡßＥ ' } as IntegrationStatus;
    expect(() => assertSameIntegration(wide, { sourceSystemId: 1, integrationName: 'strasse' })).not.toThrow();
  });
});
