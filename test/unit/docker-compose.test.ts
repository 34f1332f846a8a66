import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readClusterSettings } from '../../infra/cluster-settings.ts';
import { SEARCH_ATTRIBUTE_TYPES } from '../../workflows/definitions.ts';
import { repositoryRoot } from '../helpers/cli.ts';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number>;
  env_file?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  ports?: string[];
  profiles?: string[];
  healthcheck?: { test: string[] };
}

// docker-compose cannot run on this machine (no Docker engine), so its structure is checked here.
describe('docker-compose.yml', async () => {
  const compose = parse(await readFile(join(repositoryRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const services = compose.services;

  it('has the Temporal server on Postgres, its UI, MinIO with the bucket created', () => {
    expect(services['postgres']?.image).toMatch(/^postgres:/);
    expect(services['temporal']?.environment?.['DB']).toMatch(/postgres/);
    expect(services['temporal']?.depends_on).toHaveProperty('postgres');
    expect(services['temporal-ui']?.environment?.['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    expect(services['minio']?.command).toContain('server');
    expect(String(services['minio-setup']?.command)).toMatch(/mc mb .*local\/scigen/);
  });

  // test/cluster runs the same topology from infra/cluster.env; the compose file must not drift from it.
  it("uses infra/cluster.env's versions, database account, namespace, history shards and ports", () => {
    const settings = readClusterSettings();
    const [major, minor] = settings.TEMPORAL_SERVER_VERSION.split('.');
    const temporal = services['temporal']!;
    expect(temporal.image).toBe(`temporalio/auto-setup:${settings.TEMPORAL_SERVER_VERSION}`);
    expect(services['temporal-search-attributes']?.image).toBe(`temporalio/admin-tools:${major}.${minor}`);
    expect(services['temporal-ui']?.image).toBe(`temporalio/ui:${settings.TEMPORAL_UI_VERSION}`);
    expect(temporal.environment).toMatchObject({
      DB: settings.TEMPORAL_DB_PLUGIN,
      POSTGRES_USER: settings.POSTGRES_USER,
      POSTGRES_PWD: settings.POSTGRES_PASSWORD,
      NUM_HISTORY_SHARDS: settings.TEMPORAL_HISTORY_SHARDS,
      DEFAULT_NAMESPACE: settings.TEMPORAL_NAMESPACE,
    });
    expect(services['postgres']?.environment).toMatchObject({
      POSTGRES_USER: settings.POSTGRES_USER,
      POSTGRES_PASSWORD: settings.POSTGRES_PASSWORD,
    });
    expect(services['postgres']?.healthcheck?.test).toEqual(['CMD', 'pg_isready', '-U', settings.POSTGRES_USER]);
    expect(services['temporal-search-attributes']?.environment?.['TEMPORAL_NAMESPACE']).toBe(
      settings.TEMPORAL_NAMESPACE,
    );
    expect(services['workflows-worker']?.environment?.['TEMPORAL_NAMESPACE']).toBe(settings.TEMPORAL_NAMESPACE);
    expect(temporal.ports).toEqual([`${settings.TEMPORAL_PORT}:7233`]);
    expect(services['temporal-ui']?.ports).toEqual([`${settings.TEMPORAL_UI_PORT}:8080`]);
  });

  it('registers exactly the search attributes the workflows set', () => {
    const command = String(services['temporal-search-attributes']?.command);
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) expect(command).toContain(`${name}=${type}`);
    expect(command.match(/Scigen\w+=/g)).toHaveLength(Object.keys(SEARCH_ATTRIBUTE_TYPES).length);
  });

  it('runs one service per worker queue, from the project image, with keys from an env file and S3 artifacts', () => {
    for (const queue of ['workflows', 'llm', 'render']) {
      const worker = services[`${queue}-worker`];
      expect(worker, `${queue}-worker`).toBeDefined();
      expect(worker!.command).toEqual(['worker', '--queue', queue]);
      expect(worker!.build).toBe('.');
      expect(worker!.env_file).toEqual(['.env']);
      expect(worker!.environment?.['TEMPORAL_ADDRESS']).toBe('temporal:7233');
      expect(worker!.environment?.['SCIGEN_ARTIFACTS']).toMatch(/^s3:\/\/scigen\//);
      expect(worker!.environment?.['AWS_ENDPOINT_URL_S3']).toBe('http://minio:9000');
      // Keys never live in the compose file itself.
      expect(Object.keys(worker!.environment ?? {}).filter((name) => /API_KEY/.test(name))).toEqual([]);
    }
    expect(services['llm-worker']?.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(services['render-worker']?.deploy?.replicas).toBeGreaterThanOrEqual(2);
  });

  it('depends only on services it defines', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {}))
        expect(services, `${name} depends on ${dependency}`).toHaveProperty(dependency);
    }
  });

  it('builds from a Dockerfile whose entry point is the scigen CLI', async () => {
    const dockerfile = await readFile(join(repositoryRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/scigen.mjs"]');
  });
});
