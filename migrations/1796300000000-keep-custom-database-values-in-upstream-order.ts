import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `customDatabaseValues` becomes a jsonb array of `[key, value]` entries, in `integration.last_status`,
 * `integration.custom_database_values` and `run.status`: a jsonb object sorts its keys, an array keeps the upstream's
 * order. A jsonb null value stays null in the entry.
 *
 * The order of existing values is already lost. They get the order they were served in until now, so no served body
 * changes (and no ETag needs to): keys that are array indices ("0" to "4294967294", no leading zero) first,
 * ascending, as a JavaScript object lists them, then the rest in jsonb's order (shorter first, then bytewise), in
 * which `JSON.parse` of the jsonb text received them.
 */
export class KeepCustomDatabaseValuesInUpstreamOrder1796300000000 implements MigrationInterface {
  name = 'KeepCustomDatabaseValuesInUpstreamOrder1796300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      UPDATE integration SET last_status = jsonb_set(last_status, '{customDatabaseValues}',
        ${entriesOf(`last_status->'customDatabaseValues'`)})
      WHERE jsonb_typeof(last_status->'customDatabaseValues') = 'object'`);
    await queryRunner.query(`
      UPDATE integration SET custom_database_values = ${entriesOf('custom_database_values')}
      WHERE jsonb_typeof(custom_database_values) = 'object'`);
    await queryRunner.query(`
      UPDATE run SET status = jsonb_set(status, '{customDatabaseValues}', ${entriesOf(`status->'customDatabaseValues'`)})
      WHERE jsonb_typeof(status->'customDatabaseValues') = 'object'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      UPDATE integration SET last_status = jsonb_set(last_status, '{customDatabaseValues}',
        ${objectOf(`last_status->'customDatabaseValues'`)})
      WHERE jsonb_typeof(last_status->'customDatabaseValues') = 'array'`);
    await queryRunner.query(`
      UPDATE integration SET custom_database_values = ${objectOf('custom_database_values')}
      WHERE jsonb_typeof(custom_database_values) = 'array'`);
    await queryRunner.query(`
      UPDATE run SET status = jsonb_set(status, '{customDatabaseValues}', ${objectOf(`status->'customDatabaseValues'`)})
      WHERE jsonb_typeof(status->'customDatabaseValues') = 'array'`);
  }
}

/**
 * The entries of the jsonb object `object` (SQL written here, never a value) in the order described above. The
 * nested CASE casts only a key the pattern has matched (the operands of AND may be evaluated in any order).
 */
function entriesOf(object: string): string {
  return `(
    SELECT coalesce(jsonb_agg(jsonb_build_array(e.key, e.value) ORDER BY k.array_index IS NULL, k.array_index, e.n),
                    '[]'::jsonb)
    FROM jsonb_each(${object}) WITH ORDINALITY AS e(key, value, n)
    CROSS JOIN LATERAL (
      SELECT CASE WHEN e.key ~ '^(0|[1-9][0-9]{0,9})$' THEN
               CASE WHEN e.key::bigint <= 4294967294 THEN e.key::bigint END
             END AS array_index
    ) k
  )`;
}

/** The jsonb object of the entries array `entries` (SQL written here, never a value); keys are unique. */
function objectOf(entries: string): string {
  return `(
    SELECT coalesce(jsonb_object_agg(p->>0, p->1), '{}'::jsonb) FROM jsonb_array_elements(${entries}) AS p
  )`;
}
