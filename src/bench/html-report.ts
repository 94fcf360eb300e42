import os from 'node:os';
import { escapeHtml as esc } from '../util/html.js';
import type { HistogramBin, LoadRun, TimelinePoint } from './load-generator.js';

/** One load run in a report. */
export interface ReportSection {
  readonly title: string;
  /** The run's settings, shown as a table (target, method, concurrency, …). */
  readonly settings: Readonly<Record<string, string | number>>;
  readonly run: LoadRun;
}

/** What a report shows. */
export interface ReportInput {
  readonly title: string;
  readonly sections: readonly ReportSection[];
  /** The server's own counters, when it exposes them (`/stats.json` of its metrics port). */
  readonly serverStats?: unknown;
}

const W = 720;
const H = 240;
const PAD = { left: 64, right: 16, top: 16, bottom: 36 };
const COLORS = { p50: '#2b8a3e', p90: '#e67700', p99: '#c92a2a', rps: '#1c7ed6', bar: '#5c7cfa', grid: '#dee2e6', text: '#495057' };

/**
 * A self-contained HTML report of a load run: summary, settings, machine, a latency
 * histogram, latency percentiles over time and throughput over time as inline SVG, and the
 * server's stats if given. No scripts, styles or fonts from the network.
 */
export function renderReport(input: ReportInput): string {
  const machine = {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;color:#212529;margin:24px auto;max-width:${W + 40}px;padding:0 12px}
h1{font-size:20px}h2{font-size:18px;margin-top:36px;border-bottom:2px solid #dee2e6}h3{font-size:15px;margin-top:22px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #e9ecef;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}svg{background:#fff;border:1px solid #e9ecef}
.legend span{margin-right:14px}pre{background:#f8f9fa;padding:8px;overflow:auto;font-size:12px}
</style></head><body>
<h1>${esc(input.title)}</h1>
${input.sections.map(section).join('\n')}
<h2>Machine</h2>
${table(Object.entries(machine).map(([k, v]) => [k, String(v)]))}
${input.serverStats === undefined ? '' : `<h2>Server stats</h2>\n<pre>${esc(JSON.stringify(input.serverStats, null, 2))}</pre>`}
<p style="color:${COLORS.text};font-size:12px">ringrpc bench, ${esc(new Date().toISOString())}</p>
</body></html>
`;
}

function section(s: ReportSection): string {
  const { result } = s.run;
  const summary: Array<[string, string]> = [
    ['requests', fmt(result.requests)],
    ['ok', fmt(result.ok)],
    ...Object.entries(result.errors).map(([k, v]): [string, string] => [`errors ${k}`, fmt(v)]),
    ['req/s', fmt(result.rps)],
    ['duration', `${fmt(result.durationMs)} ms`],
    ...(['min', 'mean', 'p50', 'p90', 'p99', 'p999', 'max'] as const).map((k): [string, string] => [
      `latency ${k === 'p999' ? 'p99.9' : k}`,
      us(result.latencyUs[k]),
    ]),
  ];
  return `<h2>${esc(s.title)}</h2>
<h3>Summary</h3>
${table(summary)}
<h3>Latency histogram</h3>
${histogramSvg(s.run.histogram)}
<h3>Latency percentiles over time</h3>
<div class="legend"><span style="color:${COLORS.p50}">■ p50</span><span style="color:${COLORS.p90}">■ p90</span><span style="color:${COLORS.p99}">■ p99</span></div>
${percentilesSvg(s.run.timeline)}
<h3>Throughput over time</h3>
<div class="legend"><span style="color:${COLORS.rps}">■ req/s</span><span style="color:${COLORS.p99}">● errors in the interval</span></div>
${throughputSvg(s.run.timeline)}
<h3>Settings</h3>
${table(Object.entries(s.settings).map(([k, v]) => [k, String(v)]))}`;
}

function table(rows: Array<[string, string]>): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td class="n">${esc(v)}</td></tr>`).join('')}</table>`;
}

function histogramSvg(bins: readonly HistogramBin[]): string {
  if (bins.length === 0) return emptySvg('no calls');
  const max = Math.max(...bins.map((b) => b.count));
  const first = bins[0]!.fromUs;
  const last = bins[bins.length - 1]!.toUs;
  const lx = (v: number): number =>
    PAD.left + ((Math.log2(v) - Math.log2(first)) / Math.max(1e-9, Math.log2(last) - Math.log2(first))) * (W - PAD.left - PAD.right);
  const y = (v: number): number => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const bars = bins.map((b) => {
    const x0 = lx(b.fromUs);
    const x1 = lx(b.toUs);
    return `<rect x="${x0.toFixed(1)}" y="${y(b.count).toFixed(1)}" width="${Math.max(1, x1 - x0 - 1).toFixed(1)}" height="${(H - PAD.bottom - y(b.count)).toFixed(1)}" fill="${COLORS.bar}"><title>${us(b.fromUs)}–${us(b.toUs)}: ${fmt(b.count)}</title></rect>`;
  });
  const ticks: string[] = [];
  for (let v = 2 ** Math.ceil(Math.log2(first)); v <= last; v *= 4) ticks.push(xTick(lx(v), us(v)));
  return svg([...yAxis(max, y, (v) => fmt(v)), ...ticks, ...bars, axisLabel('latency (log scale)')]);
}

function percentilesSvg(points: readonly TimelinePoint[]): string {
  if (points.length === 0) return emptySvg('no intervals');
  const max = Math.max(1, ...points.map((p) => p.p99Us));
  const { x, ticks } = timeAxis(points);
  const y = (v: number): number => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const line = (key: 'p50Us' | 'p90Us' | 'p99Us', color: string): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => `${x(p.atMs).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ')}"/>`;
  return svg([...yAxis(max, y, us), ...ticks, line('p50Us', COLORS.p50), line('p90Us', COLORS.p90), line('p99Us', COLORS.p99), axisLabel('time (s)')]);
}

function throughputSvg(points: readonly TimelinePoint[]): string {
  if (points.length === 0) return emptySvg('no intervals');
  const max = Math.max(1, ...points.map((p) => p.rps));
  const { x, ticks } = timeAxis(points);
  const y = (v: number): number => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const line = `<polyline fill="none" stroke="${COLORS.rps}" stroke-width="2" points="${points.map((p) => `${x(p.atMs).toFixed(1)},${y(p.rps).toFixed(1)}`).join(' ')}"/>`;
  const errs = points
    .filter((p) => p.errors > 0)
    .map(
      (p) =>
        `<circle cx="${x(p.atMs).toFixed(1)}" cy="${(H - PAD.bottom - 4).toFixed(1)}" r="3" fill="${COLORS.p99}"><title>${fmt(p.errors)} errors</title></circle>`,
    );
  return svg([...yAxis(max, y, (v) => fmt(v)), ...ticks, line, ...errs, axisLabel('time (s)')]);
}

function timeAxis(points: readonly TimelinePoint[]): { x: (ms: number) => number; ticks: string[] } {
  const end = Math.max(1, points[points.length - 1]!.atMs);
  const x = (ms: number): number => PAD.left + (ms / end) * (W - PAD.left - PAD.right);
  const step = niceStep(end / 1000 / 8);
  const ticks: string[] = [];
  for (let s = 0; s <= end / 1000 + 1e-9; s += step) ticks.push(xTick(x(s * 1000), `${+s.toFixed(2)}`));
  return { x, ticks };
}

function yAxis(max: number, y: (v: number) => number, label: (v: number) => string): string[] {
  const out: string[] = [];
  const step = niceStep(max / 4);
  for (let v = 0; v <= max + 1e-9; v += step) {
    out.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="${COLORS.text}">${esc(label(v))}</text>`);
  }
  return out;
}

function xTick(x: number, label: string): string {
  return `<text x="${x.toFixed(1)}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="11" fill="${COLORS.text}">${esc(label)}</text>`;
}

function axisLabel(text: string): string {
  return `<text x="${(W + PAD.left) / 2}" y="${H - 6}" text-anchor="middle" font-size="11" fill="${COLORS.text}">${esc(text)}</text>`;
}

function svg(parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

function emptySvg(text: string): string {
  return svg([`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="${COLORS.text}">${esc(text)}</text>`]);
}

/** 1, 2 or 5 × a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function us(v: number): string {
  return v >= 1_000_000 ? `${+(v / 1_000_000).toFixed(2)} s` : v >= 1000 ? `${+(v / 1000).toFixed(2)} ms` : `${Math.round(v)} µs`;
}
