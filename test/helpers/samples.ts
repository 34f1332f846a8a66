import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadScript, type Script } from '../../scripted/script.ts';
import { repositoryRoot } from './cli.ts';

export interface ExpectedVerdict {
  verdict: string;
  render_attempts: number;
  reasons_include: string[];
  subject: string;
  image_type: string;
  /** The classify step's answer, kept beside the data's taxonomy. */
  classified: { subject: string; image_type: string };
}

export const samplesDirectory = join(repositoryRoot, 'samples');

export async function loadSampleScript(): Promise<Script> {
  return loadScript(join(samplesDirectory, 'scripted-responses.json'));
}

export async function loadExpectedVerdicts(): Promise<Record<string, ExpectedVerdict>> {
  return JSON.parse(await readFile(join(samplesDirectory, 'expected-verdicts.json'), 'utf8')) as Record<
    string,
    ExpectedVerdict
  >;
}
