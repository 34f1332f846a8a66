/**
 * How a build runs its problems. `dataset` builds a dataset (the visualizability filter skips
 * problems, refinement improves images, the renderer keeps the script's figure size); `scigenbench`
 * reproduces the benchmark's protocol: every problem drawn, no refinement, 6×6 in at dpi 100 and
 * the VE question. Both use the data's quizzes and taxonomy where it has them. Pure: imported by the CLI and recorded in summary.json.
 */

export const PROTOCOLS = ['dataset', 'scigenbench'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

/** A figure's size in inches. */
export interface FigureInches {
  width: number;
  height: number;
}

/** What a protocol decides about each problem's run (the workflow's ProblemSettings carry them). */
export interface ProtocolSettings {
  /** Problems the classifier finds not visualizable are skipped; off: classification fills the taxonomy only. */
  skipNotVisualizable: boolean;
  /** Refinement rounds of code generators. */
  refinementRounds: number;
  dpi: number;
  /** Every figure is rendered at this size and saved whole (dpi × inches pixels); null: the script's own size, cropped to what it drew. */
  figureInches: FigureInches | null;
  /** The VE question: the data's `multimodal_question` answered from the image, graded against `answer`. */
  visualAnswer: boolean;
}

/** What summary.json says of the protocol a build ran. */
export interface BuildProtocol {
  name: ProtocolName;
  settings: ProtocolSettings;
}

/** The build settings a protocol reads from the configuration when it does not fix them itself. */
export interface ProtocolConfig {
  protocol: ProtocolName;
  refinementRounds: number;
  dpi: number;
  /** The config's `ve` switch; the scigenbench protocol turns the VE step on whatever it says. */
  visualAnswer: boolean;
}

/** The official ImgCoder scripts draw on a 6×6 in figure and save it at dpi 100 (600×600 px). */
export const SCIGENBENCH_FIGURE: FigureInches = { width: 6, height: 6 };
export const SCIGENBENCH_DPI = 100;

/** The settings a protocol implies: `scigenbench` fixes its own, `dataset` takes the configuration's. */
export function protocolSettings(config: ProtocolConfig): BuildProtocol {
  if (config.protocol === 'scigenbench') {
    return {
      name: 'scigenbench',
      settings: {
        skipNotVisualizable: false,
        refinementRounds: 0,
        dpi: SCIGENBENCH_DPI,
        figureInches: SCIGENBENCH_FIGURE,
        visualAnswer: true,
      },
    };
  }
  return {
    name: 'dataset',
    settings: {
      skipNotVisualizable: true,
      refinementRounds: config.refinementRounds,
      dpi: config.dpi,
      figureInches: null,
      visualAnswer: config.visualAnswer,
    },
  };
}
