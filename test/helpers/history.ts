/** The model step (as the scripted endpoint names it) each model-calling activity type stands for. */
export const MODEL_STEP_OF_ACTIVITY: Readonly<Record<string, string>> = {
  classifyProblem: 'classify',
  planDiagram: 'plan',
  writeDiagramCode: 'code',
  repairDiagramCode: 'repair',
  judgeImage: 'judge',
  generateQuizzes: 'quiz',
  answerQuizzes: 'answer',
  refineDiagramCode: 'refine',
};
