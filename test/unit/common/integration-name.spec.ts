import { describe, expect, it } from 'vitest';
import { integrationNameKey, sameIntegrationName } from '../../../src/common/integration-name';

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
