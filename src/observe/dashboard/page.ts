// The dashboard page's script, run in the browser. scripts/build.mjs bundles it with
// chart.js into dist/dashboard/dashboard.js; it is type-checked by the tsconfig.json
// beside it (DOM, no Node), not by the package's builds.
//
// Every second it reads /api/status and redraws: the header, the counters, a chart and
// a table per view of windows. Text from the server goes in through textContent only.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartDataset,
  type Scale,
  type TooltipItem,
} from 'chart.js';
import type { StatusDocument, StatusSummary, WindowJson, WindowsJson } from '../statusDocument.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const POLL_MS = 1_000;
const REQUEST_TIMEOUT_MS = 5_000;
/** Windows charted at most, the newest; the table lists the same ones. */
const MAX_WINDOWS = 60;
/** Room for one time label under the chart (HH:MM:SS and a gap), in CSS pixels. */
const TICK_WIDTH_PX = 72;

type BarChart = Chart<'bar', number[], string | string[]>;
type BarDataset = ChartDataset<'bar', number[]>;

/** What the tests (and a curious operator, in the console) can read. */
interface DashboardHandle {
  status: StatusDocument | null;
  /** `[windows chart, totals chart]`, each once it was first drawn. */
  charts: (BarChart | undefined)[];
}

declare global {
  interface Window {
    __dashboard: DashboardHandle;
  }
}

const handle: DashboardHandle = { status: null, charts: [] };
window.__dashboard = handle;

const numberFormat = new Intl.NumberFormat('en-US');

function element<E extends Element = HTMLElement>(selector: string, within: ParentNode = document): E {
  const found = within.querySelector<E>(selector);
  if (found === null) throw new Error(`dashboard: the page has no ${selector}`);
  return found;
}

function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string,
): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className !== undefined) made.className = className;
  return made;
}

// ---- polling ---------------------------------------------------------------------

let lostSince: Date | null = null;

async function poll(): Promise<void> {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch('api/status', { cache: 'no-store', signal: controller.signal });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const status = (await response.json()) as StatusDocument;
    render(status);
    connectionBack();
  } catch (error) {
    connectionLost(error);
  } finally {
    clearTimeout(timeout);
    setTimeout(() => void poll(), POLL_MS);
  }
}

function connectionLost(error: unknown): void {
  lostSince ??= new Date();
  const banner = element('#connection');
  const reason = error instanceof Error && error.name !== 'AbortError' ? error.message : 'no answer';
  const last = handle.status === null ? '' : ` The numbers below are from ${clock(new Date(handle.status.now))} UTC.`;
  banner.textContent = `Connection lost since ${clock(lostSince)} UTC (${reason}); retrying every second.${last}`;
  banner.hidden = false;
  document.body.classList.add('stale');
}

function connectionBack(): void {
  lostSince = null;
  element('#connection').hidden = true;
  document.body.classList.remove('stale');
}

// ---- rendering -------------------------------------------------------------------

function render(status: StatusDocument): void {
  handle.status = status;
  document.title = `${status.title} · ${status.ready.ready ? 'ready' : 'not ready'}`;
  element('#title').textContent = status.title;
  renderReadiness(status);
  renderWatched(status.watched);
  renderStates(status.summary);
  renderCounters(status.summary);
  renderView(0, element('#windows'), status.windows);
  renderView(1, element('#totals'), status.totals);
  renderStages(status.stages);
  element('#updated').textContent = `Updated ${clock(new Date(status.now))} UTC (the server's clock)`;
}

function renderReadiness(status: StatusDocument): void {
  const readiness = element('#readiness');
  readiness.className = `readiness ${status.ready.ready ? 'ready' : 'not-ready'}`;
  element('.readiness-word', readiness).textContent = status.ready.ready ? 'Ready' : 'Not ready';
  element('.readiness-reason', readiness).textContent = status.ready.ready ? '' : status.ready.reason;
}

function renderWatched(watched: Readonly<Record<string, string>>): void {
  const list = element('#watched');
  const items: HTMLElement[] = [];
  for (const [name, value] of Object.entries(watched)) items.push(make('dt', name), make('dd', value));
  list.replaceChildren(...items);
}

const STATE_TONES: Readonly<Record<string, 'good' | 'warn' | 'bad'>> = {
  connected: 'good',
  up: 'good',
  taking: 'good',
  reconnecting: 'warn',
  connecting: 'warn',
  offline: 'bad',
  paused: 'warn',
  disconnected: 'bad',
  down: 'bad',
  closed: 'bad',
};

function renderStates(summary: StatusSummary): void {
  const states: [string, string | null][] = [
    ['Broker', summary.broker],
    ['Writer', summary.writer],
    ['Intake', summary.intake],
  ];
  const items = states
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, state]) => {
      const item = make('li', undefined, `state ${STATE_TONES[state] ?? ''}`);
      item.dataset['state'] = name.toLowerCase();
      item.append(`${name} `, make('span', state, 'word'));
      return item;
    });
  element('#states').replaceChildren(...items);
}

function renderCounters(summary: StatusSummary): void {
  const show = (name: string, value: string | null, alert = false) => {
    const counter = element(`[data-counter="${name}"]`);
    counter.classList.toggle('absent', value === null);
    counter.classList.toggle('alert', alert);
    counter.title = value === null ? 'no stage reports this' : '';
    element('.value', counter).textContent = value ?? '—';
  };
  const count = (value: number | null) => (value === null ? null : numberFormat.format(value));
  show('messages', count(summary.messages));
  show('rejected', count(summary.rejected), (summary.rejected ?? 0) > 0);
  show('late', count(summary.late), (summary.late ?? 0) > 0);
  show('duplicates', count(summary.duplicates));
  show('pendingRows', count(summary.pendingRows));
  show('rowsWritten', count(summary.rowsWritten));
  const watermark = summary.watermark === null ? null : new Date(summary.watermark);
  show('watermark', watermark === null ? null : clock(watermark));
  element('[data-counter="watermark"] .note').textContent =
    watermark === null ? 'UTC' : `UTC, ${watermark.toISOString().slice(0, 10)}`;
  show('watermarkLag', summary.watermarkLagSeconds === null ? null : seconds(summary.watermarkLagSeconds));
}

function renderView(index: number, section: HTMLElement, view: WindowsJson | null): void {
  section.hidden = view === null;
  if (view === null) return;
  element('.label', section).textContent = view.label;
  const error = element('.error', section);
  const failed = 'error' in view;
  error.hidden = !failed;
  error.textContent = failed ? `Could not read these windows: ${view.error}` : '';
  for (const part of ['.chart-box', '.legend-note', '.table-scroll'])
    element(part, section).hidden = failed || (!failed && view.windows.length === 0 && part !== '.table-scroll');
  if (failed) return;
  const windows = view.windows.slice(-MAX_WINDOWS);
  const statuses = statusesOf(windows);
  drawChart(index, element<HTMLCanvasElement>('canvas', section), windows, statuses);
  fillTable(element<HTMLTableElement>('table', section), view, windows, statuses);
}

/** The statuses present, numbers in order, then any other key in order. */
function statusesOf(windows: readonly WindowJson[]): string[] {
  const all = new Set<string>();
  for (const window of windows) for (const status of Object.keys(window.counts)) all.add(status);
  return [...all].sort((a, b) => {
    const [x, y] = [Number(a), Number(b)];
    if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
    if (Number.isFinite(x) !== Number.isFinite(y)) return Number.isFinite(x) ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function drawChart(index: number, canvas: HTMLCanvasElement, windows: readonly WindowJson[], statuses: string[]): void {
  const labels = windows.map((window) => {
    const start = clock(new Date(window.start));
    return window.final ? start : [start, 'open'];
  });
  let chart = handle.charts[index];
  const previous = new Map((chart?.data.datasets ?? []).map((dataset) => [dataset.label, dataset]));
  const datasets = statuses.map((status): BarDataset => {
    const colour = statusColour(status);
    const dataset: BarDataset = previous.get(status) ?? { label: status, data: [] };
    dataset.data = windows.map((window) => window.counts[status] ?? 0);
    dataset.backgroundColor = windows.map((window) => (window.final ? colour : openFill(colour)));
    dataset.borderColor = colour;
    dataset.borderWidth = windows.map((window) => (window.final ? 0 : 1));
    return dataset;
  });
  if (chart === undefined) {
    chart = new Chart(canvas, { type: 'bar', data: { labels, datasets }, options: chartOptions(windows) });
    handle.charts[index] = chart;
    return;
  }
  chart.data.labels = labels;
  chart.data.datasets = datasets;
  chart.options.plugins!.tooltip!.callbacks!.title = tooltipTitle(windows);
  chart.update('none');
}

function chartOptions(windows: readonly WindowJson[]): BarChart['options'] {
  const style = getComputedStyle(document.documentElement);
  const muted = style.getPropertyValue('--muted').trim() || '#5d6878';
  const grid = style.getPropertyValue('--grid').trim() || '#e6e9ee';
  const text = style.getPropertyValue('--text').trim() || '#1c2330';
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: 'index', intersect: false },
    scales: {
      x: {
        stacked: true,
        grid: { display: false },
        ticks: {
          color: muted,
          maxRotation: 0,
          // Chart.js's own skipping may hide the newest window, the one an operator
          // looks for: label every nth window counting back from the newest instead.
          autoSkip: false,
          callback(this: Scale, _value, index, ticks) {
            const every = Math.max(1, Math.ceil((ticks.length * TICK_WIDTH_PX) / Math.max(this.width, 1)));
            return (ticks.length - 1 - index) % every === 0 ? this.getLabelForValue(index) : '';
          },
        },
      },
      y: {
        stacked: true,
        beginAtZero: true,
        grid: { color: grid },
        ticks: { color: muted, precision: 0 },
        title: { display: true, text: 'events', color: muted },
      },
    },
    plugins: {
      legend: {
        position: 'bottom',
        labels: {
          color: text,
          boxWidth: 14,
          boxHeight: 14,
          // The legend shows each status's own colour, whatever the last window's fill.
          generateLabels: (chart) =>
            chart.data.datasets.map((dataset, datasetIndex) => ({
              text: dataset.label ?? '',
              fillStyle: statusColour(dataset.label ?? ''),
              strokeStyle: statusColour(dataset.label ?? ''),
              lineWidth: 0,
              hidden: !chart.isDatasetVisible(datasetIndex),
              datasetIndex,
              fontColor: text,
            })),
        },
      },
      tooltip: {
        callbacks: {
          title: tooltipTitle(windows),
          label: (item: TooltipItem<'bar'>) =>
            `status ${item.dataset.label}: ${numberFormat.format(item.parsed.y ?? 0)}`,
        },
      },
    },
  };
}

function tooltipTitle(windows: readonly WindowJson[]) {
  return (items: TooltipItem<'bar'>[]) => {
    const window = windows[items[0]?.dataIndex ?? -1];
    if (window === undefined) return '';
    const span = `${clock(new Date(window.start))}–${clock(new Date(window.end))} UTC`;
    return window.final ? `${span}, final` : `${span}, open (still counting)`;
  };
}

function fillTable(
  table: HTMLTableElement,
  view: { readonly label: string },
  windows: readonly WindowJson[],
  statuses: readonly string[],
): void {
  // The caption is for screen readers: the section's heading and label say it on screen,
  // and a caption as wide as a wide table would be cut off on a phone.
  const caption = make('caption', `${view.label}: events per status and window, newest first (UTC)`, 'screen-reader');
  const head = make('thead');
  const headRow = make('tr');
  headRow.append(make('th', 'Start'), make('th', 'State', 'state-column'));
  for (const status of statuses) {
    const cell = make('th');
    const key = make('span', undefined, 'status-key');
    key.style.background = statusColour(status);
    cell.append(key, status);
    headRow.append(cell);
  }
  headRow.append(make('th', 'Total'));
  for (const cell of headRow.children) cell.setAttribute('scope', 'col');
  head.append(headRow);

  // Newest first: the rows an operator reads are the live ones, at the top.
  const body = make('tbody');
  for (const window of [...windows].reverse()) {
    const row = make('tr', undefined, window.final ? 'final' : 'open');
    row.dataset['start'] = window.start;
    row.dataset['state'] = window.final ? 'final' : 'open';
    const start = make('th', clock(new Date(window.start)));
    start.setAttribute('scope', 'row');
    row.append(start, make('td', window.final ? 'final' : 'open', 'state-column'));
    let total = 0;
    for (const status of statuses) {
      const value = window.counts[status] ?? 0;
      total += value;
      const cell = make('td', numberFormat.format(value));
      cell.dataset['status'] = status;
      cell.dataset['value'] = String(value);
      row.append(cell);
    }
    const totalCell = make('td', numberFormat.format(total));
    totalCell.dataset['total'] = String(total);
    row.append(totalCell);
    body.append(row);
  }
  if (windows.length === 0) {
    const row = make('tr');
    const cell = make('td', 'No windows yet.');
    cell.colSpan = statuses.length + 3;
    row.append(cell);
    body.append(row);
  }
  table.replaceChildren(caption, head, body);
}

function renderStages(stages: StatusDocument['stages']): void {
  const blocks: HTMLElement[] = [];
  for (const [stage, values] of Object.entries(stages)) {
    const block = make('div');
    const table = make('table');
    const body = make('tbody');
    for (const [name, value] of Object.entries(values)) {
      const row = make('tr');
      const shown =
        value === null
          ? '—'
          : typeof value === 'number'
            ? numberFormat.format(value)
            : `${numberFormat.format(value.count)} observed, sum ${numberFormat.format(value.sum)}`;
      row.append(make('td', name), make('td', shown));
      body.append(row);
    }
    table.append(body);
    block.append(make('h3', stage), table);
    blocks.push(block);
  }
  if (blocks.length === 0) blocks.push(make('p', 'No stage has started yet.'));
  element('#stages').replaceChildren(...blocks);
}

// ---- colours ---------------------------------------------------------------------

/** Colours fixed per status, so that 404 is the same orange on every page and every poll. */
const KNOWN_COLOURS: Readonly<Record<string, string>> = {
  '200': '#2f9e44',
  '201': '#66a80f',
  '204': '#0ca678',
  '206': '#94d82d',
  '301': '#1971c2',
  '302': '#4dabf7',
  '304': '#3b5bdb',
  '400': '#f59f00',
  '401': '#fcc419',
  '403': '#d9480f',
  '404': '#fd7e14',
  '405': '#e8a33d',
  '429': '#b08900',
  '499': '#868e96',
  '500': '#e03131',
  '502': '#c2255c',
  '503': '#f06595',
  '504': '#9c36b5',
};

/** Shades for the statuses not listed above, by class (1xx…5xx, then anything else). */
const FAMILY_COLOURS: readonly (readonly string[])[] = [
  ['#7048e8', '#9775fa', '#5f3dc4'], // anything else
  ['#15aabf', '#3bc9db', '#0c8599'], // 1xx
  ['#37b24d', '#8ce99a', '#2b8a3e'], // 2xx
  ['#228be6', '#74c0fc', '#1864ab'], // 3xx
  ['#ff922b', '#ffc078', '#e67700'], // 4xx
  ['#fa5252', '#ff8787', '#a61e4d'], // 5xx
];

function statusColour(status: string): string {
  const known = KNOWN_COLOURS[status];
  if (known !== undefined) return known;
  const family = /^[1-5]\d\d$/.test(status) ? Number(status[0]) : 0;
  let hash = 0;
  for (const character of status) hash = (hash * 31 + character.charCodeAt(0)) >>> 0;
  const shades = FAMILY_COLOURS[family]!;
  return shades[hash % shades.length]!;
}

const openFills = new Map<string, CanvasPattern | string>();

/** The colour, lighter and hatched: an open window, whose counts may still grow. */
function openFill(colour: string): CanvasPattern | string {
  let fill = openFills.get(colour);
  if (fill !== undefined) return fill;
  const size = 8;
  const tile = document.createElement('canvas');
  tile.width = tile.height = size;
  const context = tile.getContext('2d');
  if (context === null) {
    fill = `${colour}66`;
  } else {
    context.fillStyle = `${colour}40`;
    context.fillRect(0, 0, size, size);
    context.strokeStyle = `${colour}cc`;
    context.lineWidth = 1.5;
    context.beginPath();
    // One diagonal and its two wrapped halves, so the stripes join across tiles.
    for (const offset of [-size, 0, size]) {
      context.moveTo(offset, size);
      context.lineTo(offset + size, 0);
    }
    context.stroke();
    fill = context.createPattern(tile, 'repeat') ?? `${colour}66`;
  }
  openFills.set(colour, fill);
  return fill;
}

// ---- formatting ------------------------------------------------------------------

/** HH:MM:SS in UTC. */
function clock(date: Date): string {
  return date.toISOString().slice(11, 19);
}

function seconds(value: number): string {
  if (value < 60) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  if (value < 3600) return `${Math.floor(value / 60)} min ${Math.floor(value % 60)} s`;
  if (value < 86400) return `${Math.floor(value / 3600)} h ${Math.floor((value % 3600) / 60)} min`;
  return `${numberFormat.format(Math.floor(value / 86400))} d ${Math.floor((value % 86400) / 3600)} h`;
}

void poll();
