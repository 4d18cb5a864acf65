import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const DIR = join(process.cwd(), 'deploy/kubernetes');

/** Every Kubernetes object in deploy/kubernetes (the kustomization file is kustomize's, not an API object). */
const objects = readdirSync(DIR)
  .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
      .map((doc) => doc.toJS() as { apiVersion: string; kind: string; metadata?: { name?: string } } | null)
      .filter((obj): obj is NonNullable<typeof obj> => obj !== null)
      .map((obj) => ({ file, obj })),
  );

describe('Kubernetes manifests against the API schemas (kubernetes-models)', () => {
  it('finds the expected objects', () => {
    expect(objects.map(({ obj }) => obj.kind).sort()).toStrictEqual([
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Secret',
      'Service',
    ]);
  });

  for (const { file, obj } of objects) {
    it(`${file}: ${obj.kind}/${obj.metadata?.name} is valid for ${obj.apiVersion}`, async () => {
      const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [null, obj.apiVersion];
      const models = (await import(
        group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`
      )) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = models[obj.kind];
      expect(Model, `no schema for ${obj.kind} ${obj.apiVersion}`).toBeDefined();
      expect(() => new Model(obj).validate()).not.toThrow();
    });
  }

  it('rejects a broken manifest (the check can fail)', async () => {
    const { Deployment } = (await import('kubernetes-models/apps/v1')) as unknown as {
      Deployment: new (d: unknown) => { validate(): void };
    };
    const deployment = objects.find(({ obj }) => obj.kind === 'Deployment')!.obj as any;
    const broken = structuredClone(deployment);
    broken.spec.replicas = 'three';
    expect(() => new Deployment(broken).validate()).toThrow();
  });
});
