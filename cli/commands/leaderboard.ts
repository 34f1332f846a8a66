import type { Config } from '../../config/schema.ts';
import { createSummaryAccumulator, type BuildSummary } from '../../domain/summary.ts';
import { readManifest } from '../../export/items.ts';
import {
  formatLeaderboard,
  LEADERBOARD_FORMATS,
  LEADERBOARD_GROUPINGS,
  type LeaderboardBuild,
  type LeaderboardFormat,
  type LeaderboardGrouping,
} from '../../report/leaderboard-table.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../../storage/artifact-store.ts';
import { manifestKey, summaryKey } from '../../storage/build-layout.ts';
import { createStore } from '../../workers/runtime.ts';
import { badInput } from '../errors.ts';
import type { Output } from '../output.ts';

export interface LeaderboardCommandOptions {
  by?: string;
  /** @default 'table' */
  format?: string;
}

/**
 * `scigen leaderboard <build-id>...`: the paper's table from each build's summary.json, one row per
 * generator across the builds (report/leaderboard-table.ts formats it).
 */
export async function leaderboardCommand(
  buildIds: readonly string[],
  config: Config,
  options: LeaderboardCommandOptions,
  output: Output,
): Promise<void> {
  const format = options.format ?? 'table';
  if (!(LEADERBOARD_FORMATS as readonly string[]).includes(format))
    throw badInput(`unknown --format ${JSON.stringify(format)}: use one of ${LEADERBOARD_FORMATS.join(', ')}`);
  if (options.by !== undefined && !(LEADERBOARD_GROUPINGS as readonly string[]).includes(options.by))
    throw badInput(`unknown --by ${JSON.stringify(options.by)}: use one of ${LEADERBOARD_GROUPINGS.join(', ')}`);
  const store = createStore(config);
  const unique = [...new Set(buildIds)];
  const summaries = await Promise.all(unique.map((buildId) => readBuildSummary(store, buildId)));
  const missing = unique.filter((_, index) => summaries[index] === null);
  if (missing.length > 0) {
    throw badInput(
      missing
        .map(
          (buildId) =>
            `build ${buildId} has no summary at ${store.uri(summaryKey(buildId))} (is the id right, and has it finished? scigen status ${buildId})`,
        )
        .join('\n'),
    );
  }
  const builds: LeaderboardBuild[] = unique.map((buildId, index) => ({ buildId, summary: summaries[index]! }));
  const text = formatLeaderboard(builds, {
    format: format as LeaderboardFormat,
    ...(options.by === undefined ? {} : { by: options.by as LeaderboardGrouping }),
  });
  output.stream.write(`${text}\n`);
}

/**
 * A finished build's summary.json; null when the build has none. A summary written before the
 * question-level metrics existed is summarized again from the build's manifest, which has
 * everything they need.
 */
async function readBuildSummary(store: ArtifactStore, buildId: string): Promise<BuildSummary | null> {
  let summary: BuildSummary;
  try {
    summary = JSON.parse(await store.getText(summaryKey(buildId))) as BuildSummary;
  } catch (error) {
    if (error instanceof ArtifactNotFoundError) return null;
    throw error;
  }
  const current = summary.generators.every((generator) => typeof generator.overall.questions === 'number');
  if (current || !(await store.exists(manifestKey(buildId)))) return summary;
  const accumulator = createSummaryAccumulator({
    generators: summary.generators.map(({ generator, paradigm, model }) => ({ name: generator, paradigm, model })),
  });
  for await (const record of readManifest(store, buildId)) accumulator.add(record);
  return accumulator.finish({ build_id: buildId, finished_at: summary.finished_at });
}
