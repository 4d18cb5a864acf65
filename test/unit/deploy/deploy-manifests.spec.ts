import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ENV_KEYS, loadConfig } from '../../../src/config';
import { SECRET_VARIABLES } from '../../../src/config/env.schema';

/**
 * Static checks of the deployment files (Dockerfile, .dockerignore, docker-compose.yml, deploy/kubernetes)
 * against each other and against the configuration code. No Docker engine or cluster is needed.
 */

const root = process.cwd();
const k8sDir = join(root, 'deploy/kubernetes');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

type Obj = Record<string, any>;

/** Every document of every YAML file under deploy/kubernetes, parsed as YAML 1.1 like the Kubernetes API server does. */
const k8sFiles = readdirSync(k8sDir)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();
const k8sDocs: Array<{ file: string; doc: Obj }> = k8sFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'), { version: '1.1' }).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Obj };
  }),
);
const byKind = (kind: string): Obj => {
  const found = k8sDocs.filter(({ doc }) => doc?.kind === kind);
  if (found.length !== 1)
    throw new Error(`expected exactly one ${kind} under deploy/kubernetes, found ${found.length}`);
  return found[0].doc;
};

const deployment = byKind('Deployment');
const service = byKind('Service');
const configMap = byKind('ConfigMap');
const secret = byKind('Secret');
const pdb = byKind('PodDisruptionBudget');
const kustomization = byKind('Kustomization');
const podSpec: Obj = deployment.spec.template.spec;
const container: Obj = podSpec.containers[0];

const compose: Obj = parse(read('docker-compose.yml'));
const packageJson: Obj = JSON.parse(read('package.json'));

const defaults = loadConfig({}, root);
const defaultGraceMs = defaults.schedule.shutdownGraceMs;
const envKeys: ReadonlySet<string> = new Set(ENV_KEYS);
/**
 * What belongs in the Secret: the variables whose values the config never echoes, except UPSTREAM_BASE_URL,
 * which the ConfigMap holds (the Secret is the place only for a URL that embeds credentials).
 */
const secretVariables = [...SECRET_VARIABLES].filter((name) => name !== 'UPSTREAM_BASE_URL');
/** An API_KEYS value that parses (all-zero hash: matches no key). */
const placeholderApiKeys = JSON.stringify([{ name: 'ops', keyHash: `sha256:${'0'.repeat(64)}`, scopes: ['read'] }]);

/** Resolves a container port given by number or by name. */
function containerPort(port: number | string): number {
  if (typeof port === 'number') return port;
  const named = (container.ports as Obj[]).find((p) => p.name === port);
  expect(named, `container port named ${port}`).toBeDefined();
  return named!.containerPort;
}

/** Seconds the preStop hook sleeps (exec `sleep N`). */
function preStopSeconds(): number {
  const command: string[] = container.lifecycle.preStop.exec.command;
  expect(command[0]).toBe('sleep');
  return Number(command[1]);
}

/** A Compose duration such as 35s, 1m30s, 1500ms. */
function composeDurationMs(value: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  expect(parts.map((p) => p[0]).join(''), `duration ${value}`).toBe(value);
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u], 0);
}

/** Replaces Compose's ${VAR}, ${VAR:-default} and ${VAR-default} with the default (or empty). */
function interpolateDefaults(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_all, _name, fallback) => fallback ?? '');
}

/** Names that docker-compose.yml interpolates from .env (for the postgres service), e.g. POSTGRES_PASSWORD. */
const composeInterpolated = new Set(
  [...read('docker-compose.yml').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]),
);

/** A Kubernetes memory quantity in bytes (Ki/Mi/Gi and plain). */
function memoryBytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  expect(m, `memory quantity ${quantity}`).not.toBeNull();
  return Number(m![1]) * { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m![2] ?? '']!;
}

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function dockerfileInstructions(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line.startsWith('#') || (line === '' && current === '')) continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  return logical
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(l.trim())!;
      return { keyword: keyword.toUpperCase(), args: args.trim() };
    });
}

const instructions = dockerfileInstructions(read('Dockerfile'));
const stages: Instruction[][] = [];
for (const instruction of instructions) {
  if (instruction.keyword === 'FROM') stages.push([]);
  stages.at(-1)?.push(instruction);
}
const finalStage = stages.at(-1)!;

/** .dockerignore semantics: last matching pattern wins; a pattern matching a folder covers what is inside. */
function dockerIgnored(path: string, patterns: string[]): boolean {
  const toRegExp = (pattern: string) => {
    let body = '';
    const p = pattern.replace(/^\/+|\/+$/g, '');
    for (let i = 0; i < p.length; i++) {
      if (p.startsWith('**/', i)) {
        body += '(?:.*/)?';
        i += 2;
      } else if (p.startsWith('**', i)) {
        body += '.*';
        i += 1;
      } else if (p[i] === '*') body += '[^/]*';
      else if (p[i] === '?') body += '[^/]';
      else body += p[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    // A pattern that matches a folder also covers everything inside it.
    return new RegExp(`^${body}(?:/.*)?$`);
  };
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = negate ? raw.slice(1) : raw;
    if (toRegExp(pattern).test(path)) ignored = !negate;
  }
  return ignored;
}

describe('deploy/kubernetes', () => {
  it('holds exactly the expected objects, one per file', () => {
    expect(k8sDocs.map(({ file, doc }) => `${file}: ${doc.kind}`)).toEqual([
      'configmap.yaml: ConfigMap',
      'deployment.yaml: Deployment',
      'kustomization.yaml: Kustomization',
      'poddisruptionbudget.yaml: PodDisruptionBudget',
      'secret.example.yaml: Secret',
      'service.yaml: Service',
    ]);
  });

  it('kustomization lists every manifest except the example Secret', () => {
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect([...kustomization.resources].sort()).toEqual([
      'configmap.yaml',
      'deployment.yaml',
      'poddisruptionbudget.yaml',
      'service.yaml',
    ]);
    expect(kustomization.images).toEqual([
      { name: container.image.split(':')[0], newName: 'tidemark', newTag: packageJson.version },
    ]);
  });

  it('runs 3 replicas, rolling one extra pod at a time without dropping below 3', () => {
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(deployment.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'tidemark' });
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(podSpec.containers).toHaveLength(1);
  });

  it('serves HTTP on container port 3000, the configured PORT', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
    expect(Number(configMap.data.PORT)).toBe(3000);
    expect(defaults.http.port).toBe(3000);
  });

  it('probes /health/live for startup and liveness and /health/ready for readiness', () => {
    const probe = (name: string) => {
      const { httpGet } = container[name];
      return { path: httpGet.path, port: containerPort(httpGet.port) };
    };
    expect(probe('startupProbe')).toEqual({ path: '/health/live', port: 3000 });
    expect(probe('livenessProbe')).toEqual({ path: '/health/live', port: 3000 });
    expect(probe('readinessProbe')).toEqual({ path: '/health/ready', port: 3000 });
    // Boot runs advisory-locked migrations: the startup probe allows 2 minutes.
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBe(120);
  });

  it('gives SIGTERM draining more time than SHUTDOWN_GRACE_MS plus the preStop sleep', () => {
    expect(podSpec.terminationGracePeriodSeconds).toBe(40);
    expect(preStopSeconds()).toBe(5);
    const budgetMs = podSpec.terminationGracePeriodSeconds * 1000;
    expect(defaultGraceMs).toBe(25_000);
    expect(budgetMs).toBeGreaterThan(defaultGraceMs + preStopSeconds() * 1000);
    expect(budgetMs).toBeGreaterThan(Number(configMap.data.SHUTDOWN_GRACE_MS) + preStopSeconds() * 1000);
  });

  it('runs non-root as the image user on a read-only root filesystem with a writable /tmp', () => {
    expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(podSpec.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
  });

  it('requests and limits resources for a ~200 MB RSS process', () => {
    expect(container.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    expect(memoryBytes(container.resources.requests.memory)).toBeGreaterThan(200 * 1024 ** 2);
    expect(memoryBytes(container.resources.limits.memory)).toBeGreaterThan(
      memoryBytes(container.resources.requests.memory),
    );
  });

  it('takes its environment from the ConfigMap and the Secret defined here', () => {
    expect(container.envFrom).toEqual([
      { configMapRef: { name: configMap.metadata.name } },
      { secretRef: { name: secret.metadata.name } },
    ]);
    expect(container.env).toEqual([{ name: 'REPLICA_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
  });

  it('exposes a ClusterIP Service on port 80 to container port 3000', () => {
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toHaveLength(1);
    expect(service.spec.ports[0].port).toBe(80);
    expect(containerPort(service.spec.ports[0].targetPort)).toBe(3000);
  });

  it('keeps at least one pod through voluntary disruptions', () => {
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
  });

  it('keeps the secrets in the Secret, DATABASE_URL and API_KEYS included, and none in the ConfigMap', () => {
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.stringData)).toContain('DATABASE_URL');
    expect(Object.keys(secret.stringData)).toContain('API_KEYS');
    expect(secretVariables).toContain('DATABASE_URL');
    expect(Object.keys(secret.stringData).every((key) => secretVariables.includes(key))).toBe(true);
    expect(Object.keys(configMap.data).filter((key) => secretVariables.includes(key))).toEqual([]);
  });

  it('ConfigMap values are all strings (YAML 1.1, as the API server reads them)', () => {
    for (const [key, value] of Object.entries(configMap.data)) expect(typeof value, key).toBe('string');
  });

  it('ConfigMap and example Secret together form a valid production configuration', () => {
    const config = loadConfig({ ...configMap.data, ...secret.stringData }, root);
    expect(config.production).toBe(true);
    expect(config.demoIntegrations).toBe(false);
    expect(config.integrations.map((i) => i.integrationName)).toEqual(['Orders', 'Invoices']);
    expect(config.upstream.auth.kind).toBe('bearer');
    // The manifests must never serve the API unauthenticated.
    expect(config.access.authDisabled).toBe(false);
    expect(config.schedule.shutdownGraceMs).toBe(defaultGraceMs);
    expect(config.http.port).toBe(containerPort('http'));
  });

  it('names only variables that Tidemark reads (ENV_KEYS)', () => {
    const names = [
      ...Object.keys(configMap.data),
      ...Object.keys(secret.stringData),
      ...(container.env as Obj[]).map((e) => e.name as string),
    ];
    expect(names.filter((name) => !envKeys.has(name))).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  const postgres: Obj = compose.services.postgres;
  const tidemark: Obj = compose.services.tidemark;

  it('defines postgres, tidemark and the demo profile (simulator, tidemark-demo), with no obsolete version key', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['postgres', 'simulator', 'tidemark', 'tidemark-demo']);
    expect(compose.version).toBeUndefined();
  });

  it('runs postgres:17 on a named volume with a pg_isready healthcheck and defaulted credentials', () => {
    expect(postgres.image).toBe('postgres:17');
    expect(postgres.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    expect(Object.keys(compose.volumes)).toEqual(['pgdata']);
    expect(postgres.healthcheck.test[0]).toBe('CMD-SHELL');
    expect(postgres.healthcheck.test[1]).toMatch(/^pg_isready /);
    expect(postgres.environment).toEqual({
      POSTGRES_USER: '${POSTGRES_USER:-tidemark}',
      POSTGRES_PASSWORD: '${POSTGRES_PASSWORD:-tidemark}',
      POSTGRES_DB: '${POSTGRES_DB:-tidemark}',
    });
  });

  it('builds tidemark from the Dockerfile in production mode against the postgres service', () => {
    expect(tidemark.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(tidemark.environment.NODE_ENV).toBe('production');
    const url = new URL(interpolateDefaults(tidemark.environment.DATABASE_URL));
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe('postgres://postgres:5432/tidemark');
    expect(tidemark.depends_on).toEqual({ postgres: { condition: 'service_healthy', restart: true } });
    expect(tidemark.restart).toBe('unless-stopped');
    expect(tidemark.init).toBe(true);
  });

  it('loads .env when present and does not fail without it', () => {
    expect(tidemark.env_file).toEqual([{ path: '.env', required: false }]);
  });

  it('publishes port 3000, the PORT it pins', () => {
    expect(tidemark.ports).toEqual(['127.0.0.1:3000:3000']);
    expect(tidemark.environment.PORT).toBe('3000');
  });

  it('waits longer than SHUTDOWN_GRACE_MS before SIGKILL', () => {
    expect(tidemark.stop_signal).toBe('SIGTERM');
    expect(tidemark.stop_grace_period).toBe('35s');
    expect(composeDurationMs(tidemark.stop_grace_period)).toBeGreaterThan(defaultGraceMs);
  });

  it('is a valid production configuration once .env supplies UPSTREAM_BASE_URL, API_KEYS and INTEGRATIONS', () => {
    const env = Object.fromEntries(
      Object.entries(tidemark.environment as Record<string, string>).map(([k, v]) => [k, interpolateDefaults(v)]),
    );
    expect(() => loadConfig(env, root)).toThrow(/UPSTREAM_BASE_URL: must be set when NODE_ENV=production/);
    expect(() => loadConfig(env, root)).toThrow(/API_KEYS: must be set when NODE_ENV=production/);
    expect(() =>
      loadConfig({ ...env, UPSTREAM_BASE_URL: 'https://upstream.example.com', API_KEYS: placeholderApiKeys }, root),
    ).toThrow(/INTEGRATIONS: must be set/);
    const config = loadConfig(
      {
        ...env,
        UPSTREAM_BASE_URL: 'https://upstream.example.com',
        API_KEYS: placeholderApiKeys,
        INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"Orders"}]',
      },
      root,
    );
    expect(config.production).toBe(true);
    expect(config.database.url).toBe('postgres://tidemark:tidemark@postgres:5432/tidemark');
  });

  it('gives tidemark only variables that Tidemark reads (ENV_KEYS)', () => {
    expect(Object.keys(tidemark.environment).filter((name) => !envKeys.has(name))).toEqual([]);
  });
});

describe('.env.example', () => {
  it.skipIf(!existsSync(join(root, '.env.example')))(
    'names only Tidemark variables or the ones docker-compose.yml interpolates (skipped while .env.example does not exist)',
    () => {
      const names = read('.env.example')
        .split('\n')
        .map((line) => /^\s*(?:#\s*)?(?:export\s+)?([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
        .filter((name): name is string => name !== undefined);
      expect(names.length).toBeGreaterThan(0);
      // COMPOSE_PROFILES is read by Compose itself from .env, not interpolated into docker-compose.yml.
      const unknown = names.filter((name) => !envKeys.has(name) && !composeInterpolated.has(name));
      expect(unknown.filter((name) => name !== 'COMPOSE_PROFILES')).toEqual([]);
    },
  );
});

describe('Dockerfile', () => {
  it('builds every stage from the same node 24 LTS bookworm-slim tag, which satisfies engines.node', () => {
    const froms = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms).toHaveLength(3);
    expect(new Set(froms).size).toBe(1);
    expect(froms[0]).toBe('node:24-bookworm-slim');
    expect(packageJson.engines.node).toBe('>=22.12.0');
  });

  it('installs from the lockfile, builds, and keeps only production dependencies', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(runs).toContain('npm run build');
    expect(runs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(instructions.some((i) => i.keyword === 'COPY' && /^\.\s/.test(i.args))).toBe(false);
  });

  it('final stage holds only dist/, production node_modules and package.json', () => {
    const copies = finalStage.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map((i) => i.args);
    expect(copies).toEqual([
      '--from=prod-deps /app/node_modules ./node_modules',
      '--from=build /app/dist ./dist',
      'package.json ./',
    ]);
  });

  it('runs in production as the non-root node user on port 3000', () => {
    const env = finalStage
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/(^|\s)NODE_ENV=production(\s|$)/);
    expect(finalStage.filter((i) => i.keyword === 'USER').map((i) => i.args)).toEqual(['node']);
    expect(finalStage.filter((i) => i.keyword === 'EXPOSE').map((i) => i.args)).toEqual(['3000']);
  });

  it('health-checks /health/live with node itself', () => {
    const checks = finalStage.filter((i) => i.keyword === 'HEALTHCHECK').map((i) => i.args);
    expect(checks).toHaveLength(1);
    const exec = JSON.parse(checks[0].slice(checks[0].indexOf('CMD ') + 4)) as string[];
    expect(exec.slice(0, 2)).toEqual(['node', '-e']);
    expect(exec[2]).toContain('/health/live');
    expect(exec[2]).toContain('process.env.PORT || 3000');
  });

  it('CMD, in exec form, is exactly `npm run start:prod`', () => {
    const cmds = finalStage.filter((i) => i.keyword === 'CMD').map((i) => i.args);
    expect(cmds).toHaveLength(1);
    const exec = JSON.parse(cmds[0]) as string[];
    // The script execs node, so that npm's shell hands a signal straight to it.
    expect(['exec', ...exec]).toEqual(packageJson.scripts['start:prod'].split(/\s+/));
    expect(exec).toEqual(['node', '--max-semi-space-size=16', 'dist/src/main.js']);
    expect(finalStage.some((i) => i.keyword === 'ENTRYPOINT')).toBe(false);
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps secrets, local state, tests and installed modules out of the build context', () => {
    for (const path of [
      '.env',
      '.env.local',
      '.data/pg/PG_VERSION',
      'node_modules/pg/package.json',
      'dist/src/main.js',
      'test/unit/deploy/deploy-manifests.spec.ts',
      'bench/run.ts',
      '.git/HEAD',
      'deploy/kubernetes/secret.example.yaml',
      'src/config/load-config.spec.ts',
      'src/.env',
      'docker-compose.yml',
    ]) {
      expect(dockerIgnored(path, patterns), path).toBe(true);
    }
  });

  it('sends everything the Dockerfile copies from the context', () => {
    const fromContext = instructions
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1),
      );
    expect([...new Set(fromContext)].sort()).toEqual([
      'migrations',
      'nest-cli.json',
      'package-lock.json',
      'package.json',
      'src',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
    for (const path of [...fromContext, 'src/main.ts', 'src/config/load-config.ts', 'migrations/0001-init.ts']) {
      expect(dockerIgnored(path, patterns), path).toBe(false);
    }
  });
});
