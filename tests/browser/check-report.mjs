// Opens an Evict HTML report in Debian's headless Chromium, checks that each section renders
// and that the page asks the network for nothing, saves a full-page screenshot, and prints a
// JSON verdict. Usage: node check-report.mjs REPORT.html SCREENSHOT.png SECTION_ID...
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [report, screenshot, ...sections] = process.argv.slice(2);
if (!report || !screenshot || sections.length === 0) {
  console.error('usage: node check-report.mjs REPORT.html SCREENSHOT.png SECTION_ID...');
  process.exit(2);
}

// A fresh, empty profile each run, as Chromium needs on this machine.
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'evict-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const result = { sections: {}, external_requests: [], console_errors: [] };
try {
  const page = await context.newPage();
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) {
      result.external_requests.push(r.url());
    }
  });
  page.on('console', (m) => { if (m.type() === 'error') result.console_errors.push(m.text()); });
  page.on('pageerror', (e) => result.console_errors.push(String(e)));
  await page.goto(pathToFileURL(report).href, { waitUntil: 'load' });
  for (const id of sections) {
    const section = page.locator(`section#${id}`);
    const count = await section.count();
    const heading = count === 1 ? (await section.locator('h2').first().textContent())?.trim() : null;
    const box = count === 1 ? await section.boundingBox() : null;
    result.sections[id] = { count, heading, height: box ? Math.round(box.height) : 0 };
  }
  result.title = await page.title();
  result.svg_markers = await page.locator('section#timeline svg *').count();
  await page.screenshot({ path: screenshot, fullPage: true });
  result.screenshot = screenshot;
} finally {
  await context.close();
}
console.log(JSON.stringify(result));
