// The GraphQL-over-HTTP audits of the graphql-http package (serverAudits) against the real
// server: no failure and no warning. Started by run.sh, which serves the samples and sets
// DHR_GRAPH_URL.
import assert from 'node:assert/strict';
import test from 'node:test';
import { serverAudits } from 'graphql-http';

const base = process.env.DHR_GRAPH_URL;
assert.ok(base, 'DHR_GRAPH_URL must name the running server (run.sh sets it)');

for (const audit of serverAudits({ url: `${base}/graphql` })) {
  test(`${audit.id} ${audit.name}`, async () => {
    const result = await audit.fn();
    assert.equal(result.status, 'ok', `${result.status}: ${result.reason ?? ''} ${JSON.stringify(result.response ?? '')}`);
  });
}
