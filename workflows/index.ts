export { datasetBuildWorkflow } from './build.ts';
export { problemWorkflow } from './problem.ts';
export { batcherWorkflow } from './batcher.ts';
