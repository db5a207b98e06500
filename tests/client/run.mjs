// The documented queries (docs/queries/*.graphql) through a real GraphQL client,
// graphql-request, against a running server on the samples. Started by run.sh, which serves the
// samples and sets DHR_GRAPH_URL.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { ClientError, GraphQLClient } from 'graphql-request';

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

test('every documented query answers with data', async () => {
  const files = Object.keys(docs).sort();
  assert.deepEqual(
    files.filter((f) => ['dashboard.graphql', 'partnership-board-trace.graphql', 'search.graphql'].includes(f)),
    ['dashboard.graphql', 'partnership-board-trace.graphql', 'search.graphql'],
  );
  for (const file of files) {
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
