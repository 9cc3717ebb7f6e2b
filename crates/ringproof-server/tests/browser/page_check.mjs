// Looks at one page as a phone (320 px wide) and a desktop (1280 px) would: reports
// whether it fits the width (no horizontal scrolling) and what axe-core finds
// (accessibility), as JSON: {"widths": {"320": scrollWidth, ...}, "violations": [...],
// "lang": <html lang>, "dir": <html dir>}.
// The page is looked at as rendered, without its own script (a link page's script would
// submit the confirm step at once): the document's <script> elements are taken out on the
// way in, and any POST is aborted, so looking consumes nothing.
//
//   node page_check.mjs <url> [--screenshot <prefix>] [--screenshots <dir>] [--lang <tag>]
//   node page_check.mjs - < page.html        (a page only a POST shows, given as HTML)
//
// --lang makes the browser ask for that language (its locale: `Accept-Language`).
// --screenshots saves the page at 360 and 1280 px into <dir>, named after its title and
// language (page-<title>-<lang>-<hash of the title>-<width>.png), so every distinct page
// has its own pair whatever its URL.
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const [url, ...rest] = process.argv.slice(2);
const option = (name) => {
  const i = rest.indexOf(name);
  return i < 0 ? undefined : rest[i + 1];
};
const prefix = option('--screenshot');
const lang = option('--lang');
const shotsDir = option('--screenshots');
// FNV-1a of a string, 8 hex digits: names a page whose title has no ASCII letters.
const fnv = (s) => {
  let h = 0x811c9dc5;
  for (const c of s) h = Math.imul(h ^ c.codePointAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
};
const html = url === '-' ? await new Promise((ok) => {
  let s = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => { s += d; });
  process.stdin.on('end', () => ok(s));
}) : null;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const out = { widths: {}, violations: [] };
try {
  let shotName = null;
  for (const width of shotsDir ? [320, 360, 1280] : [320, 1280]) {
    const context = await browser.newContext({
      viewport: { width, height: 800 },
      bypassCSP: true,
      ...(lang ? { locale: lang } : {}),
    });
    const page = await context.newPage();
    await page.route('**/*', async (r) => {
      if (r.request().method() === 'POST') return r.abort();
      if (r.request().resourceType() !== 'document') return r.continue();
      const res = await r.fetch();
      const body = (await res.text()).replace(/<script>[\s\S]*?<\/script>/g, '');
      return r.fulfill({ response: res, body });
    });
    if (html === null) {
      const res = await page.goto(url);
      out.status = res.status();
    } else {
      await page.setContent(html.replace(/<script>[\s\S]*?<\/script>/g, ''));
      out.status = 200;
    }
    out.widths[width] = await page.evaluate(() => document.documentElement.scrollWidth);
    out.lang = await page.evaluate(() => document.documentElement.lang);
    out.dir = await page.evaluate(() => document.documentElement.dir);
    if (prefix) await page.screenshot({ path: `${prefix}-${width}.png`, fullPage: true });
    if (shotsDir && width !== 320) {
      if (!shotName) {
        const title = await page.title();
        const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
        shotName = `page-${slug || 'untitled'}-${lang || 'en'}-${fnv(title)}`;
      }
      const { mkdirSync } = await import('node:fs');
      mkdirSync(shotsDir, { recursive: true });
      await page.screenshot({ path: `${shotsDir}/${shotName}-${width}.png`, fullPage: true });
    }
    if (width === 320) {
      const axe = await new AxeBuilder({ page }).analyze();
      out.violations = axe.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help }));
    }
    await context.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
