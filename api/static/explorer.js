// The DHR Graph explorer. Everything it shows comes from the public GraphQL API (POST
// /graphql), as any client would get it. Data is put into the page as text nodes only, never
// as markup, since review texts are third-party content.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';

// One colour per sector, shared by the chart, the legend and the network. Chosen by hand to
// stay apart from each other and readable on white.
const SECTORS = {
  POLICE: ['Police', '#1f4e9c'],
  POLICING_OVERSIGHT: ['Policing oversight', '#5b7fc7'],
  PRIMARY_CARE: ['Primary care', '#2e8540'],
  HEALTH_COMMISSIONING: ['Health commissioning', '#6aa84f'],
  ACUTE_HEALTH: ['Acute health', '#0f8b8d'],
  MENTAL_HEALTH: ['Mental health', '#7b4fa3'],
  ADULT_SOCIAL_CARE: ['Adult social care', '#c0392b'],
  CHILDRENS_SERVICES: ["Children's services", '#e67e22'],
  LOCAL_AUTHORITY: ['Local authority', '#8e6c3a'],
  HOUSING: ['Housing', '#b8860b'],
  SUBSTANCE_MISUSE: ['Substance misuse', '#a0522d'],
  PROBATION_CRIMINAL_JUSTICE: ['Probation and criminal justice', '#34495e'],
  SPECIALIST_DOMESTIC_ABUSE: ['Specialist domestic abuse', '#d6336c'],
  MARAC_PARTNERSHIP: ['MARAC and partnerships', '#9c27b0'],
  COMMUNITY_SAFETY_PARTNERSHIP: ['Community Safety Partnership', '#00838f'],
  NATIONAL_GOVERNMENT: ['National government', '#444c56'],
  EDUCATION: ['Education', '#558b2f'],
  COLLECTIVE: ['Collective', '#8c959f'],
  OTHER: ['Other (uncurated)', '#adb5bd'],
};

function sectorName(code) {
  return (SECTORS[code] || [code])[0];
}

function sectorColour(code) {
  return (SECTORS[code] || [null, '#adb5bd'])[1];
}

// ---- the API ----------------------------------------------------------------------------

async function gql(operationName, query, variables) {
  const resp = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ operationName, query, variables }),
  });
  let body;
  try {
    body = await resp.json();
  } catch (e) {
    throw new Error(`${operationName}: the server answered ${resp.status} without JSON`);
  }
  if (body.errors && body.errors.length) {
    throw new Error(body.errors.map((e) => e.message).join('; '));
  }
  return body.data;
}

const RECURRING = `query ExplorerRecurring($minReviews: Int!) {
  recurringAgencies(minReviews: $minReviews, first: 40) {
    totalCount
    nodes { agency { slug name sector } reviewCount recommendationCount }
  }
}`;

const NETWORK = `query ExplorerNetwork($minSharedReviews: Int!) {
  agencyNetwork(minSharedReviews: $minSharedReviews) {
    nodes { agency { slug name sector } reviewCount }
    edges { source { slug } target { slug } sharedReviews }
  }
}`;

const TRACE = `query ExplorerTrace($slug: String!) {
  agency(slug: $slug) {
    slug name sector reviewCount
    trace(first: 100) {
      totalCount
      nodes {
        review { id title published csps { name } }
        recommendations { label text }
      }
    }
    coAddressed(first: 12) { agency { slug name } sharedReviews }
  }
}`;

const SEARCH = `query ExplorerSearch($query: String!) {
  search(query: $query, first: 20) {
    totalCount
    edges {
      score
      node {
        __typename
        ... on Recommendation {
          id label text
          review { title published csps { name } }
          agencies { slug name }
        }
        ... on Review { id title published summary csps { name } }
      }
    }
  }
}`;

// ---- small DOM helpers ------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function shorten(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function status(message, isError) {
  const box = document.getElementById('status');
  box.textContent = message || '';
  box.classList.toggle('error', Boolean(isError));
}

// An error is shown on the page and logged, so that a broken query cannot pass unnoticed.
function failed(what, err) {
  status(`Could not load ${what}: ${err.message}`, true);
  console.error(`explorer: ${what}:`, err);
}

// Makes an SVG group act as a button that traces an agency (mouse and keyboard alike).
function pickable(group, agency) {
  group.classList.add('pick');
  group.setAttribute('tabindex', '0');
  group.setAttribute('role', 'button');
  group.setAttribute('aria-label', `Trace ${agency.name}`);
  group.addEventListener('click', () => traceAgency(agency.slug));
  group.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      traceAgency(agency.slug);
    }
  });
}

function agencyButton(agency, suffix) {
  const b = el('button', { type: 'button', class: 'link' }, agency.name + (suffix || ''));
  b.addEventListener('click', () => traceAgency(agency.slug));
  return b;
}

// ---- the recurring agencies: bars grouped by sector -------------------------------------

async function loadRecurring() {
  const minReviews = Number(document.getElementById('min-reviews').value);
  try {
    const data = await gql('ExplorerRecurring', RECURRING, { minReviews });
    drawRecurring(data.recurringAgencies.nodes);
  } catch (err) {
    failed('the recurring agencies', err);
  }
}

function drawRecurring(rows) {
  // Sectors with the most reviews first; within a sector, the agencies named most often.
  const bySector = new Map();
  for (const r of rows) {
    const s = r.agency.sector;
    if (!bySector.has(s)) bySector.set(s, { sector: s, total: 0, rows: [] });
    const g = bySector.get(s);
    g.total += r.reviewCount;
    g.rows.push(r);
  }
  const groups = [...bySector.values()].sort(
    (a, b) => b.total - a.total || a.sector.localeCompare(b.sector),
  );
  for (const g of groups) {
    g.rows.sort((a, b) => b.reviewCount - a.reviewCount || a.agency.name.localeCompare(b.agency.name));
  }

  const chart = document.getElementById('recurring-chart');
  clear(chart);
  const width = 560;
  const labelWidth = 240;
  const barArea = width - labelWidth - 40;
  const barHeight = 18;
  const gap = 6;
  const max = Math.max(1, ...rows.map((r) => r.reviewCount));
  let y = 4;
  for (const g of groups) {
    chart.append(svg('text', { x: 0, y: y + 11, class: 'sector-title' }, sectorName(g.sector)));
    y += 16;
    for (const r of g.rows) {
      const w = Math.max(2, (r.reviewCount / max) * barArea);
      const bar = svg('g', { transform: `translate(0, ${y})` },
        svg('title', {}, `${r.agency.name} (${sectorName(g.sector)}): ${r.reviewCount} reviews, ${r.recommendationCount} recommendations`),
        svg('text', { x: labelWidth - 8, y: barHeight - 5, 'text-anchor': 'end' }, shorten(r.agency.name, 32)),
        svg('rect', { class: 'focus-ring', x: labelWidth, y: 0, width: w, height: barHeight, rx: 2, fill: sectorColour(g.sector) }),
        svg('text', { x: labelWidth + w + 5, y: barHeight - 5, class: 'count' }, String(r.reviewCount)),
      );
      pickable(bar, r.agency);
      chart.append(bar);
      y += barHeight + gap;
    }
    y += 4;
  }
  if (!rows.length) {
    chart.append(svg('text', { x: 0, y: 20, class: 'empty' }, 'No agency is named by that many reviews.'));
    y = 30;
  }
  chart.setAttribute('viewBox', `0 0 ${width} ${y}`);

  const legend = document.getElementById('sector-legend');
  clear(legend);
  for (const g of groups) {
    const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = sectorColour(g.sector);
    legend.append(el('li', {}, swatch, sectorName(g.sector)));
  }

  const body = document.querySelector('#recurring-table tbody');
  clear(body);
  for (const g of groups) {
    for (const r of g.rows) {
      body.append(el('tr', {},
        el('td', {}, agencyButton(r.agency)),
        el('td', {}, sectorName(g.sector)),
        el('td', { class: 'num' }, String(r.reviewCount)),
        el('td', { class: 'num' }, String(r.recommendationCount))));
    }
  }
}

// ---- the network: a deterministic force layout ------------------------------------------

async function loadNetwork() {
  const minSharedReviews = Number(document.getElementById('min-shared').value);
  try {
    const data = await gql('ExplorerNetwork', NETWORK, { minSharedReviews });
    drawNetwork(data.agencyNetwork);
  } catch (err) {
    failed('the agency network', err);
  }
}

// Fruchterman-Reingold from a sunflower start. No randomness, and the nodes are sorted first,
// so the same graph is always drawn the same way (and a screenshot can be compared).
const GRAVITY = 0.02;

function layout(nodes, edges, size) {
  const n = nodes.length;
  const pos = nodes.map((_, i) => {
    const r = Math.sqrt(i + 0.5) / Math.sqrt(n);
    const a = i * 2.399963; // the golden angle
    return { x: r * Math.cos(a) * size * 0.4, y: r * Math.sin(a) * size * 0.4 };
  });
  const k = size / Math.sqrt(Math.max(n, 1)) * 0.75;
  let temperature = size / 10;
  for (let step = 0; step < 300; step++) {
    const disp = pos.map(() => ({ x: 0, y: 0 }));
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const dx = pos[i].x - pos[j].x;
        const dy = pos[i].y - pos[j].y;
        const d = Math.max(Math.hypot(dx, dy), 0.01);
        const f = (k * k) / d;
        disp[i].x += (dx / d) * f; disp[i].y += (dy / d) * f;
        disp[j].x -= (dx / d) * f; disp[j].y -= (dy / d) * f;
      }
    }
    for (const e of edges) {
      const dx = pos[e.s].x - pos[e.t].x;
      const dy = pos[e.s].y - pos[e.t].y;
      const d = Math.max(Math.hypot(dx, dy), 0.01);
      const f = (d * d) / k;
      disp[e.s].x -= (dx / d) * f; disp[e.s].y -= (dy / d) * f;
      disp[e.t].x += (dx / d) * f; disp[e.t].y += (dy / d) * f;
    }
    for (let i = 0; i < n; i++) {
      // Gravity holds the separate clusters of the graph together on one canvas.
      disp[i].x -= pos[i].x * GRAVITY * k;
      disp[i].y -= pos[i].y * GRAVITY * k;
      const d = Math.max(Math.hypot(disp[i].x, disp[i].y), 0.01);
      const move = Math.min(d, temperature);
      pos[i].x += (disp[i].x / d) * move;
      pos[i].y += (disp[i].y / d) * move;
    }
    temperature = Math.max(temperature * 0.985, 0.5);
  }
  return pos;
}

let selectedSlug = null;

function drawNetwork(network) {
  const nodes = [...network.nodes].sort(
    (a, b) => b.reviewCount - a.reviewCount || a.agency.slug.localeCompare(b.agency.slug),
  );
  const index = new Map(nodes.map((n, i) => [n.agency.slug, i]));
  const edges = network.edges
    .filter((e) => index.has(e.source.slug) && index.has(e.target.slug))
    .map((e) => ({ s: index.get(e.source.slug), t: index.get(e.target.slug), w: e.sharedReviews }));

  const chart = document.getElementById('network');
  clear(chart);
  const width = 560;
  const height = 420;
  if (!nodes.length) {
    chart.setAttribute('viewBox', `0 0 ${width} 40`);
    chart.append(svg('text', { x: 0, y: 20, class: 'empty' }, 'No agencies share that many reviews.'));
    return;
  }
  const pos = layout(nodes, edges, 400);
  const radius = (n) => 4 + 5 * Math.sqrt(n.reviewCount);
  // Fit the layout into the canvas, leaving room for the labels at the sides.
  const xs = pos.map((p) => p.x);
  const ys = pos.map((p) => p.y);
  const minX = Math.min(...xs); const maxX = Math.max(...xs);
  const minY = Math.min(...ys); const maxY = Math.max(...ys);
  const padX = 90; const padY = 24;
  const scale = Math.min(
    (width - 2 * padX) / Math.max(maxX - minX, 1),
    (height - 2 * padY) / Math.max(maxY - minY, 1),
  );
  const at = (p) => ({
    x: padX + (p.x - minX) * scale + ((width - 2 * padX) - (maxX - minX) * scale) / 2,
    y: padY + (p.y - minY) * scale + ((height - 2 * padY) - (maxY - minY) * scale) / 2,
  });
  const placed = pos.map(at);
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);

  const lines = svg('g', { 'aria-hidden': 'true' });
  for (const e of edges) {
    const a = placed[e.s];
    const b = placed[e.t];
    lines.append(svg('line', {
      class: 'edge', x1: a.x.toFixed(1), y1: a.y.toFixed(1), x2: b.x.toFixed(1), y2: b.y.toFixed(1),
      'stroke-width': (1 + 1.5 * (e.w - 1)).toFixed(1),
    }, svg('title', {}, `${nodes[e.s].agency.name} and ${nodes[e.t].agency.name}: ${e.w} shared reviews`)));
  }
  chart.append(lines);

  nodes.forEach((n, i) => {
    const p = placed[i];
    const r = radius(n);
    const g = svg('g', { class: 'node', 'data-slug': n.agency.slug, transform: `translate(${p.x.toFixed(1)}, ${p.y.toFixed(1)})` },
      svg('title', {}, `${n.agency.name} (${sectorName(n.agency.sector)}): ${n.reviewCount} reviews`),
      svg('circle', { class: 'focus-ring', r: r.toFixed(1), fill: sectorColour(n.agency.sector) }),
    );
    // Labels for the agencies named most; the others say their name on hover and focus.
    if (n.reviewCount >= 2 || nodes.length <= 12) {
      const right = p.x < width / 2;
      g.append(svg('text', { x: right ? r + 3 : -(r + 3), y: 4, 'text-anchor': right ? 'start' : 'end' }, shorten(n.agency.name, 28)));
    }
    if (n.agency.slug === selectedSlug) g.classList.add('selected');
    pickable(g, n.agency);
    chart.append(g);
  });
}

function markSelected(slug) {
  selectedSlug = slug;
  for (const g of document.querySelectorAll('#network .node')) {
    g.classList.toggle('selected', g.getAttribute('data-slug') === slug);
  }
}

// ---- one agency's trace: a timeline -----------------------------------------------------

async function traceAgency(slug) {
  markSelected(slug);
  const list = document.getElementById('trace');
  const intro = document.getElementById('trace-intro');
  const heading = document.getElementById('trace-heading');
  let agency;
  try {
    agency = (await gql('ExplorerTrace', TRACE, { slug })).agency;
  } catch (err) {
    failed('the trace', err);
    return;
  }
  clear(list);
  const co = document.getElementById('co-addressed');
  clear(co);
  if (!agency) {
    heading.textContent = 'Trace';
    intro.textContent = `No agency is called "${slug}".`;
    return;
  }
  heading.textContent = `Trace: ${agency.name}`;
  const total = agency.trace.totalCount;
  intro.textContent = `${sectorName(agency.sector)}. Named by ${total} review${total === 1 ? '' : 's'}, oldest first.`;
  for (const entry of agency.trace.nodes) {
    const r = entry.review;
    const when = r.published
      ? el('time', { datetime: r.published }, r.published)
      : el('time', {}, 'date unknown');
    const recs = el('ul', { class: 'recs' });
    for (const rec of entry.recommendations) {
      recs.append(el('li', {}, el('span', { class: 'label' }, rec.label), ` ${rec.text}`));
    }
    list.append(el('li', {},
      when,
      el('h3', {}, r.title),
      el('span', { class: 'csps' }, ` (${r.csps.map((c) => c.name).join(', ')})`),
      recs));
  }
  if (agency.coAddressed.length) {
    const chips = el('ul', { class: 'chips' });
    for (const c of agency.coAddressed) {
      chips.append(el('li', {}, agencyButton(c.agency, ` (${c.sharedReviews})`)));
    }
    co.append(el('h3', {}, 'Named beside it (shared reviews)'), chips);
  }
  heading.focus();
}

// ---- search -----------------------------------------------------------------------------

async function search(query) {
  const summary = document.getElementById('search-summary');
  const list = document.getElementById('search-results');
  summary.textContent = 'Searching…';
  let result;
  try {
    result = (await gql('ExplorerSearch', SEARCH, { query })).search;
  } catch (err) {
    summary.textContent = '';
    failed('the search', err);
    return;
  }
  clear(list);
  summary.textContent = result.totalCount
    ? `${result.totalCount} result${result.totalCount === 1 ? '' : 's'} for "${query}", most relevant first.`
    : `Nothing matches "${query}".`;
  for (const { node, score } of result.edges) {
    const review = node.__typename === 'Review' ? node : node.review;
    const where = `${review.title}, ${review.csps.map((c) => c.name).join(', ')}, ${review.published || 'date unknown'}`;
    const item = el('li', {},
      el('span', { class: 'kind' }, node.__typename === 'Review' ? 'Review' : 'Recommendation'),
      el('span', { class: 'meta' }, `${where} · score ${score.toFixed(2)}`));
    if (node.__typename === 'Recommendation') {
      item.append(el('p', {}, el('span', { class: 'label' }, node.label), ` ${node.text}`));
      if (node.agencies.length) {
        const chips = el('ul', { class: 'chips', 'aria-label': 'Addressed to' });
        for (const a of node.agencies) chips.append(el('li', {}, agencyButton(a)));
        item.append(chips);
      }
    } else {
      item.append(el('p', {}, shorten(node.summary, 400)));
    }
    list.append(item);
  }
}

// ---- start ------------------------------------------------------------------------------

function start() {
  document.getElementById('min-reviews').addEventListener('change', loadRecurring);
  document.getElementById('min-shared').addEventListener('change', loadNetwork);
  for (const id of ['recurring-form', 'network-form']) {
    document.getElementById(id).addEventListener('submit', (e) => e.preventDefault());
  }
  document.getElementById('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const query = document.getElementById('search-input').value.trim();
    if (query) search(query);
  });
  Promise.all([loadRecurring(), loadNetwork()]).then(() => {
    document.body.setAttribute('data-loaded', 'true');
  });
}

start();
