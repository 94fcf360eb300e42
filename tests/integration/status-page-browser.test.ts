/// <reference lib="dom" />
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import puppeteer from 'puppeteer-core';
import { serveMetrics } from '../../src/index.js';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';
import { chromiumPath } from '../helpers/chromium.js';
import { until } from '../helpers/tcp.js';

const test = suite('status page in headless Chromium');

test('the status page renders what the server counts, loads nothing else, and refreshes itself', async () => {
  const executablePath = chromiumPath();
  if (executablePath === undefined) return;
  const { server, address } = await startBenchServer({ heartbeatIntervalMs: 100 });
  const metrics = await serveMetrics(server, { port: 0, host: '127.0.0.1' });
  const client = benchClient(address, { heartbeatIntervalMs: 50 }); // its PINGs keep it from the 400 ms idle limit
  for (let i = 0; i < 7; i++) await client.echo({});
  await until(() => server.connectionStats()[0]?.rttMs !== undefined, 10_000, 'a server PING answered: the RTT column fills in');

  const browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    const url = `http://127.0.0.1:${metrics.port}/`;
    const response = await page.goto(url, { waitUntil: 'load' });
    assert.is(response?.status(), 200);

    // innerText, not textContent, throughout: what the page shows, as rendered.
    const shown = await page.evaluate(() => ({
      title: document.title,
      heading: document.querySelector('h1')?.textContent,
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is tested
      text: document.body.innerText,
      methodRow: [...document.querySelectorAll('#methods tr')]
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is tested
        .map((tr) => [...tr.children].map((c) => (c as HTMLElement).innerText))
        .find((cells) => cells[0] === 'bench.v1.Bench/Echo'),
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is tested
      connectionRows: [...document.querySelectorAll('#connection-list tr')].slice(1).map((tr) => [...tr.children].map((c) => (c as HTMLElement).innerText)),
      visible: [...document.querySelectorAll('table')].every((t) => t.getBoundingClientRect().height > 0),
    }));
    const port = server.address!.port;
    assert.is(shown.title, `ringrpc 127.0.0.1:${port}`);
    assert.is(shown.heading, `ringrpc server 127.0.0.1:${port}`);
    assert.equal(shown.methodRow?.slice(0, 5), ['bench.v1.Bench/Echo', '7', '7', '–', '0'], `the Echo row: ${shown.methodRow}`);
    assert.is(shown.connectionRows.length, 1, 'one client connection listed');
    assert.match(shown.connectionRows[0]![0]!, /^127\.0\.0\.1:\d+$/);
    assert.match(shown.connectionRows[0]![5]!, /^[\d.]+ (µs|ms)$/, `keepalive RTT shown: ${shown.connectionRows[0]}`);
    assert.match(shown.text, /keepalive RTT\s+mean [\d.]+ (µs|ms)/);
    assert.ok(shown.visible, 'every table is laid out');
    assert.equal(problems, []);

    // Live: it reloads every 2 s and shows the calls made meanwhile.
    for (let i = 0; i < 5; i++) await client.echo({});
    await page.waitForNavigation({ timeout: 15_000 });
    const after = await page.evaluate(
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is tested
      () => [...document.querySelectorAll('#methods tr')].map((tr) => (tr.children[1] as HTMLElement | undefined)?.innerText)[1],
    );
    assert.is(after, '12');
    assert.equal([...new Set(requests)], [url], 'self-contained: nothing but the page itself is loaded');
  } finally {
    await browser.close();
    await client.$close();
    await metrics.close();
    await server.close();
  }
});

test.run();
