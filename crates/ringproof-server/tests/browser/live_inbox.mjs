// Opens the sandbox phone in Chromium, says "ready" once its event stream is open, then
// waits (at most 20 s) for a new SMS to show up on the page by itself. Prints
// {"before": n, "after": m, "code": "<the highlighted code>"}.
//
//   node live_inbox.mjs <url of /sandbox>
import { chromium } from 'playwright-core';

const [url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
  await page.goto(url);
  await page.waitForFunction(() => window.rpEvents && window.rpEvents.readyState === 1);
  const before = await page.locator('.thread li.sms').count();
  console.log('ready');
  await page.waitForFunction((n) => document.querySelectorAll('.thread li.sms').length > n, before, {
    timeout: 20000,
  });
  const after = await page.locator('.thread li.sms').count();
  const code = await page.locator('.thread li.sms .code').first().textContent();
  console.log(JSON.stringify({ before, after, code }));
} finally {
  await browser.close();
}
