import { execa } from 'execa';
import { join } from 'node:path';
import type { JudgeScores } from '../../domain/types.ts';
import { repositoryRoot } from './cli.ts';

/** What test/helpers/official-aggregate.py prints: the benchmark's own arithmetic (pandas) over a manifest. */
export interface OfficialAggregate {
  overall: {
    r_inv: number | null;
    r_inv_quiz_only: number | null;
    perfect_image_rate: number | null;
    ve_accuracy: number | null;
    questions: number;
    judge_means: JudgeScores | null;
  };
  by_image_type: Record<string, { r_inv: number | null; perfect_image_rate: number | null; questions: number }>;
}

/** Aggregates one generator's results in a manifest.jsonl the way SciGenBench's run.py does, in Python with pandas. */
export async function officialAggregate(manifestPath: string, generator: string): Promise<OfficialAggregate> {
  const python = join(repositoryRoot, '.venv', 'bin', 'python');
  const script = join(repositoryRoot, 'test', 'helpers', 'official-aggregate.py');
  const { stdout } = await execa(python, [script, manifestPath, generator]);
  return JSON.parse(stdout) as OfficialAggregate;
}
