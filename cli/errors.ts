/** An error the CLI reports in one message and turns into an exit code (CONTRACT.md). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** 2: bad input or config. 1: infrastructure failure. 3: a build finished with no evaluated image. */
    readonly exitCode: 1 | 2 | 3,
  ) {
    super(message);
  }
}

export const badInput = (message: string) => new CliError(message, 2);
export const infrastructureFailure = (message: string) => new CliError(message, 1);
export const noEvaluatedImage = (message: string) => new CliError(message, 3);
