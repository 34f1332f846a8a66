import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevServer, findFreePort, isPortListening } from '../../infra/dev-server.ts';
import type { DevServer } from '../../infra/dev-server.ts';

const namespace = 'scigen-dev-server-test';

async function customSearchAttributes(address: string, namespaceName: string): Promise<Record<string, number>> {
  const connection = await Connection.connect({ address });
  try {
    const listing = await connection.operatorService.listSearchAttributes({ namespace: namespaceName });
    return { ...listing.customAttributes };
  } finally {
    await connection.close();
  }
}

async function retentionDays(address: string, namespaceName: string): Promise<number | undefined> {
  const connection = await Connection.connect({ address });
  try {
    const description = await connection.workflowService.describeNamespace({ namespace: namespaceName });
    const milliseconds = optionalTsToMs(description.config?.workflowExecutionRetentionTtl);
    return milliseconds === undefined ? undefined : milliseconds / (24 * 60 * 60 * 1000);
  } finally {
    await connection.close();
  }
}

describe('ensureDevServer', () => {
  let stateDirectory: string;
  let dbFile: string;
  let port: number;
  let uiPort: number;
  const started: DevServer[] = [];

  beforeAll(async () => {
    stateDirectory = await mkdtemp(path.join(tmpdir(), 'scigen-dev-server-'));
    // A folder that does not exist yet: ensureDevServer must create it.
    dbFile = path.join(stateDirectory, 'state', 'temporal.sqlite');
    port = await findFreePort();
    uiPort = await findFreePort();
  });

  afterAll(async () => {
    for (const server of started) await server.stop();
    await rm(stateDirectory, { recursive: true, force: true });
  });

  it('starts a server with the namespace and search attributes', async () => {
    const server = await ensureDevServer({
      port,
      uiPort,
      dbFile,
      namespace,
      searchAttributes: { ScigenBuildId: 'Keyword', ScigenProblemCount: 'Int' },
    });
    started.push(server);
    expect(server.startedByUs).toBe(true);
    expect(server.address).toBe(`127.0.0.1:${port}`);
    expect(server.uiUrl).toBe(`http://localhost:${uiPort}`);
    expect((await stat(dbFile)).isFile()).toBe(true);
    expect(server.logFile).toBe(path.join(stateDirectory, 'state', 'temporal-server.log'));
    const pid = Number(await readFile(path.join(stateDirectory, 'state', 'temporal-server.pid'), 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(await customSearchAttributes(server.address, namespace)).toMatchObject({
      ScigenBuildId: 2, // INDEXED_VALUE_TYPE_KEYWORD
      ScigenProblemCount: 3, // INDEXED_VALUE_TYPE_INT
    });
    // `start-dev` would keep closed workflows 24 h.
    expect(await retentionDays(server.address, namespace)).toBe(30);
  });

  it('reuses a running server, adds missing attributes, and leaves it running on stop', async () => {
    const reused = await ensureDevServer({
      port,
      uiPort,
      dbFile,
      namespace,
      searchAttributes: { ScigenBuildId: 'Keyword', ScigenVerdict: 'Keyword' },
    });
    expect(reused.startedByUs).toBe(false);
    expect(reused.logFile).toBeNull();
    expect(await customSearchAttributes(reused.address, namespace)).toMatchObject({
      ScigenBuildId: 2,
      ScigenProblemCount: 3,
      ScigenVerdict: 2,
    });
    await reused.stop();
    expect(await isPortListening('127.0.0.1', port)).toBe(true);
  });

  it('refuses an attribute that exists with another type', async () => {
    await expect(
      ensureDevServer({ port, dbFile, namespace, searchAttributes: { ScigenProblemCount: 'Keyword' } }),
    ).rejects.toThrow(/ScigenProblemCount already exists .* \(Int, wanted Keyword\)/);
  });

  it('stops the server it started and frees the port', async () => {
    const server = started.shift();
    if (server === undefined) throw new Error('no server was started');
    await server.stop();
    expect(await isPortListening('127.0.0.1', port)).toBe(false);
    await expect(stat(path.join(stateDirectory, 'state', 'temporal-server.pid'))).rejects.toThrow(/ENOENT/);
  });

  it('adds attributes introduced after the database was created when restarting on it', async () => {
    const server = await ensureDevServer({
      port,
      uiPort,
      dbFile,
      namespace,
      searchAttributes: { ScigenBuildId: 'Keyword', ScigenSubject: 'Keyword' },
      retentionDays: 90,
    });
    started.push(server);
    expect(server.startedByUs).toBe(true);
    expect(await retentionDays(server.address, namespace)).toBe(90);
    // The CLI's --search-attribute flags are ignored for an existing database.
    expect(await customSearchAttributes(server.address, namespace)).toMatchObject({
      ScigenBuildId: 2,
      ScigenVerdict: 2,
      ScigenSubject: 2,
    });
    await server.stop();
    started.pop();
    expect(await isPortListening('127.0.0.1', port)).toBe(false);
  });

  it('reports the server output when the server cannot start', async () => {
    const blockedPort = await findFreePort();
    await expect(
      ensureDevServer({
        port: blockedPort,
        // An existing directory cannot be opened as the SQLite file.
        dbFile: stateDirectory,
        logFile: path.join(stateDirectory, 'failed-start.log'),
        pidFile: path.join(stateDirectory, 'failed-start.pid'),
        namespace,
        startTimeoutMilliseconds: 30_000,
      }),
    ).rejects.toThrow(/temporal dev server exited with code \d+: [^]*\S/);
    // What the error quoted stays in the server's log.
    expect(await readFile(path.join(stateDirectory, 'failed-start.log'), 'utf8')).toMatch(/server start-dev/);
  });
});
