import type { Failure, PlanTask, TaskResult } from './plan';

/** Each dependency's summary is cut to this in a prompt, and the whole context to CONTEXT_LIMIT. */
const SUMMARY_LIMIT = 800;
const FILES_LIMIT = 50;
const CONTEXT_LIMIT = 40_000;

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}

function describeResult(result: TaskResult | null): string {
  if (!result) return 'no result recorded';
  const files = result.filesChanged.length
    ? `${result.filesChanged.slice(0, FILES_LIMIT).join(', ')}${result.filesChanged.length > FILES_LIMIT ? `, … (${result.filesChanged.length - FILES_LIMIT} more)` : ''}`
    : 'none';
  return `${cut(result.summary.trim() || '(empty answer)', SUMMARY_LIMIT)}\n  Files changed: ${files}`;
}

function dependencyContext(dependencies: readonly PlanTask[]): string[] {
  if (dependencies.length === 0) return [];
  const lines = ['', 'What the tasks this one depends on produced (read their files in the workspace):'];
  let size = 0;
  for (const dep of dependencies) {
    const line = `- ${dep.key} (${dep.spec.title}): ${describeResult(dep.result)}`;
    size += line.length;
    if (size > CONTEXT_LIMIT) {
      lines.push(`- … and ${dependencies.length - dependencies.indexOf(dep)} more (cut to keep the prompt short)`);
      break;
    }
    lines.push(line);
  }
  return lines;
}

/** A task's prompt: its instructions, the plan's requirement, and what its dependencies produced. */
export function taskPrompt(task: PlanTask, requirement: string, dependencies: readonly PlanTask[]): string {
  return [task.spec.instructions, '', `The plan's requirement: ${requirement}`, ...dependencyContext(dependencies)].join('\n');
}

/** The Debugger's retry: the failure's context (original instructions, error, partial result) first. */
export function debugPrompt(
  task: PlanTask,
  requirement: string,
  dependencies: readonly PlanTask[],
  failure: Failure,
  partial: TaskResult | null,
): string {
  return [
    `Task ${task.key} (${task.spec.title}, role ${task.spec.role}) of a plan failed. Find the cause, fix it, and finish the task; add a regression test where it applies.`,
    '',
    `The failure: ${failure.code}: ${failure.message}`,
    `Its partial result: ${describeResult(partial)}`,
    '',
    'The original instructions:',
    task.spec.instructions,
    '',
    `The plan's requirement: ${requirement}`,
    ...dependencyContext(dependencies),
  ].join('\n');
}
