import { METRIC, Metrics } from '@app/observability';
import { SessionTransitionPublisher } from '../../application/session-transition-publisher';
import { Session } from '../../domain/session';
import { SessionAgentAssignment } from '../../domain/session-agent';
import { SESSION_TRANSITIONS } from '../../domain/session-status';
import { SessionMetricsObserver } from './session-metrics';
import { scrapeSamples as samples } from '@app/observability/testing';


const USAGE = { inputTokens: 100, outputTokens: 40, reasoningTokens: 0, cacheReadTokens: 7, cacheWriteTokens: 3, costUsd: 0.25 };
const ASSIGNMENT: SessionAgentAssignment = {
  agentId: '7d0a3c52-8e44-4c8a-9d7e-1f0c0f5a8b11',
  agentName: 'builder',
  role: 'IMPLEMENTER',
  systemInstructions: '',
  disabledTools: [],
  readOnly: false,
  permissions: {},
  routing: { requestedRole: 'IMPLEMENTER', skills: [], complexity: 5, score: 0.9 },
  reviewOf: null,
};

describe('SessionMetricsObserver', () => {
  let metrics: Metrics;
  let publisher: SessionTransitionPublisher;
  const at = (seconds: number) => new Date(Date.UTC(2025, 0, 1, 12, 0, seconds));

  /** What the repository does after each committed write. */
  const commit = (session: Session) => publisher.publish(session.pullEvents());

  beforeEach(() => {
    metrics = new Metrics({ defaultMetrics: false });
    publisher = new SessionTransitionPublisher();
    const observer = new SessionMetricsObserver(metrics);
    observer.initialise();
    publisher.observe((event) => observer.transitioned(event));
  });

  const newSession = (extra: { model?: string | null; assignment?: SessionAgentAssignment | null } = {}) =>
    Session.create({ title: 't', prompt: 'p', workspace: '/w', opencodeAgent: 'build', timeoutSeconds: 60, ...extra }, at(0));

  it('starts every allowed transition of the table, and creation, at 0', async () => {
    const values = await samples(metrics);
    const pairs = Object.entries(SESSION_TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => [from, to]));
    for (const [from, to] of [['NONE', 'PENDING'], ...pairs]) {
      expect({ from, to, value: values.get(`${METRIC.sessionTransitions}{from="${from}",to="${to}"}`) }).toEqual({ from, to, value: 0 });
    }
    expect(values.get(`${METRIC.sessionDuration}_count{status="COMPLETED"}`)).toBe(0);
    expect(values.has(`${METRIC.sessionDuration}_count{status="RUNNING"}`)).toBe(false);
  });

  it('counts each committed transition once, and observes queue wait and run duration', async () => {
    const session = newSession();
    commit(session);
    session.queue(at(1));
    commit(session);
    session.markRunning(at(4));
    commit(session);
    commit(session); // a write without transitions (e.g. the turn attached) records nothing
    session.complete({ summary: 'done', filesChanged: ['a.txt'] }, USAGE, at(34));
    commit(session);

    const values = await samples(metrics);
    const transitions = (from: string, to: string) => values.get(`${METRIC.sessionTransitions}{from="${from}",to="${to}"}`);
    expect(transitions('NONE', 'PENDING')).toBe(1);
    expect(transitions('PENDING', 'QUEUED')).toBe(1);
    expect(transitions('QUEUED', 'RUNNING')).toBe(1);
    expect(transitions('RUNNING', 'COMPLETED')).toBe(1);
    expect(values.get(`${METRIC.sessionQueueWait}_count`)).toBe(1);
    expect(values.get(`${METRIC.sessionQueueWait}_sum`)).toBe(3);
    expect(values.get(`${METRIC.sessionDuration}_count{status="COMPLETED"}`)).toBe(1);
    expect(values.get(`${METRIC.sessionDuration}_sum{status="COMPLETED"}`)).toBe(30);
    expect(values.get(`${METRIC.sessionDuration}_bucket{le="15",status="COMPLETED"}`)).toBe(0);
    expect(values.get(`${METRIC.sessionDuration}_bucket{le="30",status="COMPLETED"}`)).toBe(1);
  });

  it("labels tokens, cost and runs with 'none' and 'default' for a plain session", async () => {
    const session = newSession();
    session.queue(at(1));
    session.markRunning(at(2));
    session.complete({ summary: 'done', filesChanged: [] }, USAGE, at(3));
    commit(session);

    const values = await samples(metrics);
    const tokens = (kind: string) => values.get(`${METRIC.tokens}{agent="none",role="none",model="default",kind="${kind}"}`);
    expect(tokens('input')).toBe(100);
    expect(tokens('output')).toBe(40);
    expect(tokens('cache_read')).toBe(7);
    expect(tokens('cache_write')).toBe(3);
    expect(tokens('reasoning')).toBeUndefined(); // 0 tokens: no series
    expect(values.get(`${METRIC.cost}{agent="none",role="none",model="default"}`)).toBe(0.25);
    expect(values.get(`${METRIC.agentRuns}{agent="none",role="none",outcome="COMPLETED"}`)).toBe(1);
  });

  it("labels by the session's agent, role and model", async () => {
    const session = newSession({ model: 'anthropic/claude-sonnet-4-5', assignment: ASSIGNMENT });
    session.queue(at(1));
    session.markRunning(at(2));
    session.fail({ code: 'PROVIDER_ERROR', message: 'no' }, USAGE, at(5));
    commit(session);

    const values = await samples(metrics);
    const labels = 'agent="builder",role="IMPLEMENTER",model="anthropic/claude-sonnet-4-5"';
    expect(values.get(`${METRIC.tokens}{${labels},kind="input"}`)).toBe(100);
    expect(values.get(`${METRIC.cost}{${labels}}`)).toBe(0.25);
    expect(values.get(`${METRIC.agentRuns}{agent="builder",role="IMPLEMENTER",outcome="FAILED"}`)).toBe(1);
    expect(values.get(`${METRIC.sessionDuration}_sum{status="FAILED"}`)).toBe(3);
  });

  it('observes no duration and counts no run for a session that never ran', async () => {
    const session = newSession();
    session.queue(at(1));
    commit(session);
    session.cancel('cancelled by user', null, at(9));
    commit(session);

    const values = await samples(metrics);
    expect(values.get(`${METRIC.sessionTransitions}{from="QUEUED",to="CANCELLED"}`)).toBe(1);
    expect(values.get(`${METRIC.sessionDuration}_count{status="CANCELLED"}`)).toBe(0);
    expect([...values.keys()].some((s) => s.startsWith(METRIC.agentRuns) || s.startsWith(METRIC.tokens))).toBe(false);
  });

  it('counts a retry as QUEUED again and its run on its own', async () => {
    const session = newSession();
    session.queue(at(1));
    session.markRunning(at(2));
    session.fail({ code: 'PROVIDER_ERROR', message: 'no' }, null, at(3));
    commit(session);
    session.retry(at(10));
    session.markRunning(at(12));
    commit(session);

    const values = await samples(metrics);
    expect(values.get(`${METRIC.sessionTransitions}{from="FAILED",to="QUEUED"}`)).toBe(1);
    expect(values.get(`${METRIC.sessionTransitions}{from="QUEUED",to="RUNNING"}`)).toBe(2);
    // The second wait is counted from the retry's queuedAt.
    expect(values.get(`${METRIC.sessionQueueWait}_sum`)).toBe(1 + 2);
  });
});
