// The explorer in Debian's headless Chromium, driven by playwright-core. Starts nothing itself:
// run.sh serves the samples and sets DHR_GRAPH_URL (and SCREENSHOT, where the picture goes).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const base = process.env.DHR_GRAPH_URL;
assert.ok(base, 'DHR_GRAPH_URL must name the running server (run.sh sets it)');
const screenshot = process.env.SCREENSHOT || 'target/browser/explorer.png';

let browser;
let page;
// Everything the page complains about; the last test asserts there is nothing.
const problems = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Root in a container has no user namespaces for Chromium's sandbox.
    args: ['--no-sandbox'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${base}/`) && !url.startsWith('data:')) problems.push(`request elsewhere: ${url}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
});

after(async () => {
  await browser?.close();
});

test('the page has a title, one h1 and labelled controls', async () => {
  assert.equal(await page.title(), 'DHR Graph explorer');
  assert.equal(await page.locator('h1').count(), 1);
  for (const id of ['min-reviews', 'min-shared', 'search-input']) {
    assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `#${id} has a label`);
  }
});

test('the bar chart draws the recurring agencies, grouped by sector', async () => {
  const bars = page.locator('#recurring-chart rect');
  assert.ok((await bars.count()) > 0, 'bars drawn');
  const labels = await page.locator('#recurring-chart text').allTextContents();
  assert.ok(labels.includes('Home Office'), labels.join(' | '));
  assert.ok(labels.includes('National government'), 'sector headings');
  assert.ok((await page.locator('#sector-legend li').count()) > 0, 'a legend');
  const before = await bars.count();
  await page.selectOption('#min-reviews', '1');
  await page.waitForFunction((n) => document.querySelectorAll('#recurring-chart rect').length > n, before);
});

test('the network draws nodes and edges', async () => {
  assert.ok((await page.locator('#network circle').count()) > 0, 'circles drawn');
  assert.ok((await page.locator('#network line').count()) > 0, 'lines drawn');
  const radius = async (slug) =>
    Number(await page.locator(`#network .node[data-slug="${slug}"] circle`).getAttribute('r'));
  assert.ok(
    (await radius('home-office')) > (await radius('kent-police')),
    'a node sized by its reviews: Home Office (3) over Kent Police (1)',
  );
});

test('clicking an agency in the network shows its trace as a timeline', async () => {
  await page.locator('#network .node[data-slug="home-office"]').click();
  await page.waitForFunction(() => document.getElementById('trace-heading').textContent.includes('Home Office'));
  const entries = page.locator('#trace > li');
  assert.equal(await entries.count(), 3);
  assert.deepEqual(await page.locator('#trace time').allTextContents(), ['2022-12', '2023-04', '2024-02']);
  assert.ok((await page.locator('#trace .recs li').count()) >= 3);
  assert.ok(await page.locator('#network .node.selected[data-slug="home-office"]').count());
});

test('the keyboard reaches a bar and traces it', async () => {
  const bar = page.locator('#recurring-chart [role="button"][aria-label="Trace GP practice"]');
  await bar.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('trace-heading').textContent.includes('GP practice'));
  const titles = await page.locator('#trace h3').allTextContents();
  assert.deepEqual(titles, ['Bassetlaw review', 'Liverpool review']);
});

test('a search for "routine enquiry" lists recommendations', async () => {
  await page.fill('#search-input', 'routine enquiry');
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#search-results > li');
  const results = page.locator('#search-results > li');
  assert.ok((await results.count()) >= 3);
  const first = await results.first().textContent();
  assert.match(first, /Bassetlaw review/);
  assert.match(first, /5\.1/);
});

test('the page logged no error and asked nothing of other hosts', async () => {
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.deepEqual(problems, []);
});
