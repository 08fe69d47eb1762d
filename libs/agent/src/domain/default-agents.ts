import { AgentBinding, READ_ONLY_ROLES, WRITING_TOOLS } from './agent';
import { AgentRole } from './agent-role';
import { Capability } from './capability';

/** One agent the first migration seeds; the README's table of default agents is this list. */
export interface DefaultAgent {
  id: string;
  name: string;
  role: AgentRole;
  capabilities: Capability[];
  maxConcurrentSessions: number;
  binding: AgentBinding;
}

/** Fixed ids, so scripts and docs can name the default agents on any installation. */
export const DEFAULT_AGENT_IDS = {
  architect: '00000000-0000-4000-a000-000000000001',
  implementer: '00000000-0000-4000-a000-000000000002',
  reviewer: '00000000-0000-4000-a000-000000000003',
  debugger: '00000000-0000-4000-a000-000000000004',
} as const;

const lines = (...text: string[]) => text.join('\n');

const ARCHITECT_INSTRUCTIONS = lines(
  'You are the architect. You design; you do not change files.',
  '- Read the code that the task touches before proposing anything; name the files and types you read.',
  '- Answer with a plan: the goal in one sentence, the modules and interfaces to add or change (with signatures), the data and migration changes, and the order of the steps.',
  '- Follow the conventions already in the repository (layout, naming, error handling, tests) unless the task asks to change them; say why when you depart from them.',
  '- List the risks (concurrency, data migration, backwards compatibility, security) and how each step is tested.',
  '- Prefer the smallest design that meets the task; list what you chose to leave out.',
);

const IMPLEMENTER_INSTRUCTIONS = lines(
  'You are the implementer. You change the code so that the task is done and proven by tests.',
  '- Read the surrounding code first and follow its style, layout and naming.',
  '- Make the smallest change that does the task completely; do not reformat or refactor unrelated code.',
  '- Add or update tests for every behaviour you change, run them, and run the type checker and linter the project uses.',
  '- Never weaken or delete a test to make it pass; if a test is wrong, say why.',
  '- End with a short summary: what changed, in which files, how you verified it, and anything left open.',
);

/** The first two lines are parsed by parseReviewVerdict (review-verdict.ts); keep them in step. */
export const REVIEWER_INSTRUCTIONS = lines(
  'You are the reviewer. You read the change and judge it; you do not change files.',
  'Answer in this fixed format, with nothing before it:',
  'first line: VERDICT: APPROVE or VERDICT: REQUEST_CHANGES',
  'second line: QUALITY: <0-10>/10',
  'then your findings, one per line, most severe first: "- [blocker|major|minor] path:line: problem; suggested fix".',
  'Example:',
  'VERDICT: REQUEST_CHANGES',
  'QUALITY: 5/10',
  '- [major] src/orders/order.service.ts:42: the refund is not checked against the order total; reject larger refunds and test it.',
  'Rules:',
  '- Check correctness first, then tests (is each changed behaviour tested?), security (input validation, injection, secrets, authorisation), concurrency and error handling, then readability.',
  '- REQUEST_CHANGES when there is any blocker or major finding; APPROVE otherwise.',
  '- QUALITY scores the change as a whole: 9-10 ready as is, 7-8 minor remarks, 4-6 needs work, 0-3 wrong or unsafe.',
);

const DEBUGGER_INSTRUCTIONS = lines(
  'You are the debugger. You find the root cause of a failure and fix it.',
  '- Reproduce the failure first (a failing test or a command) and show its output.',
  '- Form a hypothesis, check it with evidence (logs, a smaller reproduction, reading the code path); do not guess.',
  '- Fix the cause, not the symptom; add a regression test that fails without the fix and passes with it.',
  '- Run the related tests again and report: the cause, the fix, the files changed, and the evidence that it is fixed.',
);

/** Read-only roles start with exactly the tools the domain switches off for them. */
const toolsOff = (role: AgentRole): string[] => (READ_ONLY_ROLES.includes(role) ? [...WRITING_TOOLS].sort() : []);

export const DEFAULT_AGENTS: readonly DefaultAgent[] = [
  {
    id: DEFAULT_AGENT_IDS.architect,
    name: 'architect',
    role: AgentRole.ARCHITECT,
    capabilities: [
      { skill: 'architecture', level: 5 },
      { skill: 'api-design', level: 4 },
      { skill: 'typescript', level: 4 },
      { skill: 'sql', level: 3 },
      { skill: 'documentation', level: 4 },
    ],
    maxConcurrentSessions: 5,
    binding: { opencodeAgent: 'plan', model: null, systemInstructions: ARCHITECT_INSTRUCTIONS, disabledTools: toolsOff(AgentRole.ARCHITECT), permissions: {}, fallbackModels: [], maxSteps: null },
  },
  {
    id: DEFAULT_AGENT_IDS.implementer,
    name: 'implementer',
    role: AgentRole.IMPLEMENTER,
    capabilities: [
      { skill: 'typescript', level: 5 },
      { skill: 'javascript', level: 4 },
      { skill: 'testing', level: 4 },
      { skill: 'sql', level: 4 },
      { skill: 'refactoring', level: 4 },
      { skill: 'api-design', level: 3 },
    ],
    maxConcurrentSessions: 5,
    binding: { opencodeAgent: 'build', model: null, systemInstructions: IMPLEMENTER_INSTRUCTIONS, disabledTools: toolsOff(AgentRole.IMPLEMENTER), permissions: {}, fallbackModels: [], maxSteps: null },
  },
  {
    id: DEFAULT_AGENT_IDS.reviewer,
    name: 'reviewer',
    role: AgentRole.REVIEWER,
    capabilities: [
      { skill: 'code-review', level: 5 },
      { skill: 'security', level: 4 },
      { skill: 'typescript', level: 4 },
      { skill: 'testing', level: 4 },
      { skill: 'architecture', level: 3 },
    ],
    maxConcurrentSessions: 5,
    binding: { opencodeAgent: 'plan', model: null, systemInstructions: REVIEWER_INSTRUCTIONS, disabledTools: toolsOff(AgentRole.REVIEWER), permissions: {}, fallbackModels: [], maxSteps: null },
  },
  {
    id: DEFAULT_AGENT_IDS.debugger,
    name: 'debugger',
    role: AgentRole.DEBUGGER,
    capabilities: [
      { skill: 'debugging', level: 5 },
      { skill: 'typescript', level: 4 },
      { skill: 'testing', level: 4 },
      { skill: 'performance', level: 3 },
      { skill: 'sql', level: 3 },
    ],
    maxConcurrentSessions: 5,
    binding: { opencodeAgent: 'build', model: null, systemInstructions: DEBUGGER_INSTRUCTIONS, disabledTools: toolsOff(AgentRole.DEBUGGER), permissions: {}, fallbackModels: [], maxSteps: null },
  },
];
