/**
 * What the repair and refinement steps are told about an image or a failed render: pure rules,
 * shared by the problem workflow and its tests.
 */
import type { JudgeReasoning } from './problem-result.ts';
import { JUDGE_DIMENSIONS, JUDGE_LABELS, type JudgeScores } from './types.ts';

/**
 * What a refinement round is asked to fix: every judge dimension below 2, with the judge's words
 * for it, and every flaw the renderer measured. Null when there is nothing to fix.
 */
export function critiqueOf(version: {
  judge: JudgeScores;
  reasoning: JudgeReasoning | null;
  findings: readonly string[];
}): string | null {
  const lines: string[] = [];
  for (const dimension of JUDGE_DIMENSIONS) {
    const score = version.judge[dimension];
    if (score >= 2) continue;
    const words = version.reasoning?.dimensions[dimension] ?? '';
    lines.push(`- ${JUDGE_LABELS[dimension].long} scored ${score} of 2${words ? `: ${words}` : ''}`);
  }
  for (const finding of version.findings) lines.push(`- measured in the rendered figure: ${finding}`);
  if (lines.length === 0) return null;
  const overall = version.reasoning?.overall.trim();
  return overall ? `${lines.join('\n')}\n\nThe reviewer's overall assessment: ${overall}` : lines.join('\n');
}

/** The repair step's view of a failed render: the error, then what the renderer measured in the figure. */
export function withFindings(error: string, findings: readonly string[]): string {
  if (findings.length === 0) return error;
  return `${error}\n\nWhat the renderer measured in the figure:\n${findings.map((finding) => `- ${finding}`).join('\n')}`;
}

/**
 * One line for the manifest from a render error: for a Python traceback, its last line (the
 * exception) and the script line it points at, e.g. "exception: ZeroDivisionError: … (line 14)".
 */
export function errorHeadline(error: string): string {
  const lines = error
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const kind = /^([a-z-]+): /.exec(lines[0] ?? '')?.[1];
  let headline = lines.at(-1) ?? error;
  if (kind && !headline.startsWith(`${kind}: `)) headline = `${kind}: ${headline}`;
  const scriptLines = [...error.matchAll(/line (\d+)/g)];
  const lastScriptLine = scriptLines.at(-1)?.[1];
  if (lastScriptLine && !headline.includes(`line ${lastScriptLine}`)) headline = `${headline} (line ${lastScriptLine})`;
  return headline.length > 300 ? `${headline.slice(0, 300)}…` : headline;
}
