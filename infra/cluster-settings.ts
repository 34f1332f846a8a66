import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { repositoryRoot } from './tools.ts';

/** infra/cluster.env: the one copy of the production topology's settings (see its header). */
export const clusterSettingsFile = path.join(repositoryRoot, 'infra', 'cluster.env');

const version = z.string().regex(/^\d+\.\d+\.\d+$/, 'a version like 1.28.1');
const port = z.coerce.number().int().min(1).max(65_535);

const clusterSettingsSchema = z.object({
  TEMPORAL_SERVER_VERSION: version,
  TEMPORAL_UI_VERSION: version,
  TEMPORAL_DB_PLUGIN: z.literal('postgres12'),
  TEMPORAL_NAMESPACE: z.string().min(1),
  TEMPORAL_HISTORY_SHARDS: z.coerce.number().int().positive(),
  TEMPORAL_PORT: port,
  TEMPORAL_UI_PORT: port,
  POSTGRES_USER: z.string().min(1),
  POSTGRES_PASSWORD: z.string().min(1),
});

export type ClusterSettings = z.infer<typeof clusterSettingsSchema>;

export function readClusterSettings(file = clusterSettingsFile): ClusterSettings {
  const parsed = clusterSettingsSchema.safeParse(parseEnv(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`invalid ${file}:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
