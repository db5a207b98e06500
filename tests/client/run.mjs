// The documented queries (docs/queries/*.graphql) through a real GraphQL client,
// graphql-request, against a running server on the samples. Started by run.sh, which serves the
// samples and sets DHR_GRAPH_URL.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { execFileSync } from 'node:child_process';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.DHR_GRAPH_URL;
assert.ok(base, 'DHR_GRAPH_URL must name the running server (run.sh sets it)');
const client = new GraphQLClient(`${base}/graphql`);

const dir = new URL('../../docs/queries/', import.meta.url).pathname;
// Each file: its text, and the variables on its `# variables:` line.
const docs = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .map((f) => {
      const text = readFileSync(join(dir, f), 'utf8');
      const line = text.split('\n').find((l) => l.startsWith('# variables:'));
      return [f, { text, variables: line ? JSON.parse(line.slice('# variables:'.length)) : {} }];
    }),
);

const run = (file, variables) => client.request(docs[file].text, variables ?? docs[file].variables);

// Writes need a key: an editor key made with the CLI, as an operator would.
const editorKey = execFileSync(
  process.env.DHR_GRAPH_BIN,
  ['keys', 'create', '--database-url', process.env.DHR_GRAPH_DATABASE_URL, '--name', `node-${process.pid}`, '--role', 'editor', '--owner', 'kent'],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
).trim();
const editor = new GraphQLClient(`${base}/graphql`, { headers: { authorization: `Bearer ${editorKey}` } });
const isMutation = (file) => /^mutation /m.test(docs[file].text);

// The case-management files in the order a system sends them: the plan and the status change
// point at a recommendation the upsert wrote.
async function caseManagement() {
  const upsert = await editor.request(docs['case-management-upsert.graphql'].text, docs['case-management-upsert.graphql'].variables);
  // Each step names the version it read, as a real system must (a rerun finds later versions).
  const first = upsert.upsertReview.review.recommendations.nodes[0];
  const id = first.id;
  const plan = await editor.request(docs['case-management-plan.graphql'].text, {
    input: { ...docs['case-management-plan.graphql'].variables.input, id, expectedVersion: first.actionPlan.version },
  });
  const status = await editor.request(docs['case-management-status.graphql'].text, {
    input: {
      ...docs['case-management-status.graphql'].variables.input,
      id,
      expectedVersion: plan.updateRecommendation.actionPlan.version,
    },
  });
  return { upsert, plan, status, id, version: status.setRecommendationStatus.actionPlan.version };
}

test('every documented query answers with data', async () => {
  const files = Object.keys(docs).sort();
  assert.deepEqual(
    files.filter((f) => ['dashboard.graphql', 'partnership-board-trace.graphql', 'search.graphql'].includes(f)),
    ['dashboard.graphql', 'partnership-board-trace.graphql', 'search.graphql'],
  );
  // The writes run in their own tests, after the read tests whose answers they would change.
  for (const file of files.filter((f) => !isMutation(f))) {
    const data = await run(file);
    for (const [field, value] of Object.entries(data)) {
      assert.ok(value !== null && JSON.stringify(value) !== '[]', `${file}: ${field} is empty`);
    }
  }
});

test('the dashboard: Home Office recurs most, the network has edges, sectors by year', async () => {
  const data = await run('dashboard.graphql');
  const top = data.recurringAgencies.nodes[0];
  assert.equal(top.agency.name, 'Home Office');
  assert.equal(top.reviewCount, 3);
  assert.deepEqual(top.csps.map((c) => c.name), ['Nottingham', 'Southampton']);
  const counts = data.recurringAgencies.nodes.map((n) => n.reviewCount);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'most reviews first');
  assert.ok(data.agencyNetwork.edges.length > 0);
  const slugs = new Set(data.agencyNetwork.nodes.map((n) => n.agency.slug));
  for (const e of data.agencyNetwork.edges) {
    assert.ok(slugs.has(e.source.slug) && slugs.has(e.target.slug), 'every edge joins listed nodes');
  }
  assert.ok(data.sectorStats.some((s) => s.sector === 'POLICE' && s.year === 2023));
});

test("a partnership board's trace: GP practice in Bassetlaw, then Liverpool", async () => {
  const { agency } = await run('partnership-board-trace.graphql');
  assert.equal(agency.name, 'GP practice');
  assert.equal(agency.trace.totalCount, 2);
  assert.deepEqual(
    agency.trace.nodes.map((n) => [n.review.title, n.review.published]),
    [['Bassetlaw review', '2023-06'], ['Liverpool review', '2023-07']],
  );
  assert.ok(agency.trace.nodes.every((n) => n.recommendations.length > 0));
  assert.ok(Array.isArray(agency.coAddressed) && agency.coAddressed.length > 0);
});

test('search: "routine enquiry" finds Bassetlaw 5.1 first', async () => {
  const { search } = await run('search.graphql');
  assert.ok(search.totalCount >= 3);
  const first = search.edges[0].node;
  assert.equal(first.__typename, 'Recommendation');
  assert.equal(first.label, '5.1');
  assert.equal(first.review.title, 'Bassetlaw review');
});

test('an error reaches the client with its code', async () => {
  await assert.rejects(run('partnership-board-trace.graphql', {}), (err) => {
    assert.ok(err instanceof ClientError, String(err));
    assert.ok(err.response.errors[0].extensions.code, JSON.stringify(err.response.errors));
    return true;
  });
});

test('the server counts the operations the client named', async () => {
  await run('search.graphql');
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /dhr_graph_graphql_requests_total\{operation="Search",outcome="ok"\} [1-9]/);
  assert.match(text, /dhr_graph_graphql_requests_total\{operation="PartnershipBoardTrace",outcome="error"\} 1/);
});

test('a case-management system writes a review, its plan and its progress', async () => {
  const { upsert, plan, status } = await caseManagement();
  assert.ok(['ADDED', 'UNCHANGED'].includes(upsert.upsertReview.outcome));
  const v = plan.updateRecommendation.actionPlan.version;
  assert.equal(plan.updateRecommendation.actionPlan.leadAgency.name, 'Kent Police');
  assert.equal(status.setRecommendationStatus.actionPlan.status, 'IN_PROGRESS');
  assert.equal(status.setRecommendationStatus.actionPlan.version, v + 1);
  const history = status.setRecommendationStatus.recommendation.statusHistory.map((e) => e.version);
  assert.deepEqual(history, Array.from({ length: v + 1 }, (_, i) => i + 1), 'one event per version');
  // Without a key the same write is refused with its code.
  await assert.rejects(run('case-management-upsert.graphql'), (err) => {
    assert.equal(err.response.errors[0].extensions.code, 'UNAUTHENTICATED');
    return true;
  });
});

test('the graphql-ws client hears a status change as it happens', async () => {
  const ws = createClient({ url: `${base.replace('http', 'ws')}/graphql/ws`, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
  try {
    const heard = new Promise((resolve, reject) => {
      const stop = ws.subscribe(
        { query: 'subscription { recommendationStatusChanged(agency: "kent-police") { recommendationId to version by } }' },
        { next: (msg) => { stop(); resolve(msg); }, error: reject, complete: () => {} },
      );
    });
    // Give the subscription a moment to register before the write.
    await new Promise((r) => setTimeout(r, 300));
    const { id } = await caseManagement().then(async (w) => {
      await editor.request(docs['case-management-status.graphql'].text, {
        input: { id: w.id, status: 'IMPLEMENTED', expectedVersion: w.version, note: 'Done.' },
      });
      return w;
    });
    const msg = await heard;
    assert.equal(msg.errors, undefined, JSON.stringify(msg));
    const change = msg.data.recommendationStatusChanged;
    assert.equal(change.recommendationId, id);
    assert.equal(change.by, `node-${process.pid}`);
  } finally {
    await ws.dispose();
  }
});
