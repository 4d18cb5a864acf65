// Writes the OpenAPI document the built service serves at /docs-json to a file (default .test-results/openapi.json),
// for the linters (`npm run lint:openapi`). Boots dist/ against a throwaway database: a new one on TEST_DATABASE_URL's
// server when it is set, else an embedded Postgres in a temporary folder; the upstream is the bundled simulator.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

const output = resolve(process.argv[2] ?? '.test-results/openapi.json');
const dist = (path) => import(pathToFileURL(resolve('dist/src', path)).href);

async function withAdmin(adminUrl, sql) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function main() {
  const { loadConfig } = await dist('config/index.js');
  const { createTidemarkApp } = await dist('bootstrap.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-openapi-'));
  const adminUrl = process.env.TEST_DATABASE_URL;
  const database = `tidemark_openapi_${process.pid}`;
  const env = { HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'error' };
  if (adminUrl) {
    await withAdmin(adminUrl, `CREATE DATABASE ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    env.DATABASE_URL = url.toString();
  }
  try {
    const tidemark = await createTidemarkApp(loadConfig(env, process.cwd()), { logger: false });
    try {
      const response = await tidemark.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/docs-json' });
      if (response.statusCode !== 200) throw new Error(`/docs-json answered ${response.statusCode}`);
      mkdirSync(dirname(output), { recursive: true });
      writeFileSync(output, `${JSON.stringify(JSON.parse(response.body), null, 2)}\n`);
    } finally {
      await tidemark.close();
    }
  } finally {
    if (adminUrl) await withAdmin(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`openapi: wrote ${output}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
