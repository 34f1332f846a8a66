import { join, resolve } from 'node:path';
import type { Config } from '../../config/schema.ts';
import { ExportError, exportBuild, isExportFormat, EXPORT_FORMATS } from '../../export/export-build.ts';
import { findPython } from '../../render/find-python.ts';
import { createStore } from '../../workers/runtime.ts';
import { badInput } from '../errors.ts';
import type { Output } from '../output.ts';

export interface ExportOptions {
  format: string;
  /** @default <stateDirectory>/exports/<build-id>/<format> */
  out?: string;
  all: boolean;
  generator?: string;
  json: boolean;
}

/** Missing images are named one per line up to this many, then only counted. */
const MISSING_IMAGES_SHOWN = 20;

export async function exportCommand(
  buildId: string,
  config: Config,
  options: ExportOptions,
  output: Output,
): Promise<void> {
  const format = options.format;
  if (!isExportFormat(format))
    throw badInput(`unknown export format ${JSON.stringify(format)}: use one of ${EXPORT_FORMATS.join(', ')}`);
  const outDirectory = options.out ? resolve(options.out) : join(config.stateDirectory, 'exports', buildId, format);
  const python =
    format === 'parquet' ? await findPython(config.render.python ? { python: config.render.python } : {}) : undefined;
  let missing = 0;
  try {
    const result = await exportBuild({
      store: createStore(config),
      buildId,
      format,
      outDirectory,
      all: options.all,
      ...(options.generator === undefined ? {} : { generator: options.generator }),
      ...(python === undefined ? {} : { python }),
      onMissingImage(item, reason) {
        if (missing++ < MISSING_IMAGES_SHOWN) output.line(`left out ${item.id}: ${reason}`);
      },
    });
    const { counts } = result;
    const leftOut = [
      ...(counts.withoutImage > 0 ? [`${counts.withoutImage} results without an image`] : []),
      ...(result.missingImages > 0 ? [`${result.missingImages} whose image could not be read`] : []),
    ];
    output.line(
      `exported ${result.items} items of build ${buildId} (${counts.lines} manifest lines) as ${format}` +
        `${leftOut.length > 0 ? `; left out ${leftOut.join(' and ')}` : ''}`,
    );
    for (const path of result.paths) output.line(`  ${path}`);
    if (options.json) {
      output.json({
        build_id: buildId,
        format,
        items: result.items,
        paths: result.paths,
        lines: counts.lines,
        verdicts: counts.verdicts,
        without_image: counts.withoutImage,
        missing_images: result.missingImages,
      });
    }
  } catch (error) {
    if (error instanceof ExportError) throw badInput(error.message);
    throw error;
  }
}
