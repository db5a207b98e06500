// GraphiQL in Debian's headless Chromium with the network off: every request that does not go
// to the server is refused, and GraphiQL must still load, run a query, and receive a
// subscription event over its websocket. run.sh serves the samples and sets DHR_GRAPH_URL,
// DHR_GRAPH_BIN and DHR_GRAPH_DATABASE_URL.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const base = process.env.DHR_GRAPH_URL;
assert.ok(base, 'DHR_GRAPH_URL must name the running server (run.sh sets it)');

let browser;
let context;
const problems = [];
const elsewhere = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The network is off: only the server answers.
  const origin = new URL(base);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === origin.host || url.protocol === 'data:') return route.continue();
    elsewhere.push(url.href);
    return route.abort('internetdisconnected');
  });
});

after(async () => {
  await browser?.close();
});

async function open(query) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(`${base}/graphql#query=${encodeURIComponent(query)}`);
  await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
  return page;
}

async function execute(page) {
  await page.locator('.graphiql-execute-button').click();
}

async function result(page, wanted) {
  await page.waitForFunction(
    (w) => (document.querySelector('.result-window')?.innerText || '').includes(w),
    wanted,
    { timeout: 20_000 },
  );
  return page.locator('.result-window').innerText();
}

test('GraphiQL loads from the server alone and runs a query', async () => {
  const page = await open('{ agency(slug: "kent-police") { name sector } }');
  await execute(page);
  const text = await result(page, 'Kent Police');
  assert.ok(text.includes('POLICE'), text);
  await page.close();
});

test('a subscription in GraphiQL receives a status change over the websocket', async () => {
  const page = await open('subscription { recommendationStatusChanged(agency: "kent-police") { to note } }');
  await execute(page);
  // The socket is open once the server has acknowledged it; then a change is made.
  await page.waitForTimeout(1_000);
  const key = execFileSync(
    process.env.DHR_GRAPH_BIN,
    ['keys', 'create', '--database-url', process.env.DHR_GRAPH_DATABASE_URL, '--name', `graphiql-${process.pid}`, '--role', 'editor', '--owner', 'kent'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  ).trim().split('\n').pop().trim();
  const post = async (query, variables) => {
    const r = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await r.json();
    assert.ok(!body.errors, JSON.stringify(body.errors));
    return body.data;
  };
  const found = await post('{ recommendations(first: 1, filter: { agency: "kent-police" }) { nodes { id actionPlan { version status } } } }');
  const rec = found.recommendations.nodes[0];
  const to = rec.actionPlan.status === 'IN_PROGRESS' ? 'IMPLEMENTED' : 'IN_PROGRESS';
  await post(
    'mutation($input: SetRecommendationStatusInput!) { setRecommendationStatus(input: $input) { actionPlan { status } } }',
    { input: { id: rec.id, status: to, expectedVersion: rec.actionPlan.version, note: 'Seen in GraphiQL' } },
  );
  const text = await result(page, 'Seen in GraphiQL');
  assert.ok(text.includes(to), text);
  await page.close();
});

test('nothing was asked of the internet, and nothing failed', () => {
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(problems, []);
});
