// Opens the sandbox phone in Chromium, says "ready" once its event stream is open, then
// waits (at most 20 s) for a new SMS to show up on the page by itself, at the bottom of
// the conversation. Then taps the "Copy" button beside the newest code. Prints
// {"before": n, "after": m, "codes": [<the highlighted codes, top to bottom>],
//  "copied": <the clipboard's text>, "button": <the button's label after the tap>,
//  "atBottom": <whether the page followed the conversation down>}.
//
//   node live_inbox.mjs <url of /sandbox>
import { chromium } from 'playwright-core';

const [url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.rpEvents && window.rpEvents.readyState === 1);
  const before = await page.locator('.thread li.sms').count();
  console.log('ready');
  await page.waitForFunction((n) => document.querySelectorAll('.thread li.sms').length > n, before, {
    timeout: 20000,
  });
  const after = await page.locator('.thread li.sms').count();
  const codes = await page.locator('.thread li.sms .code').allTextContents();
  const atBottom = await page.evaluate(
    () => innerHeight + scrollY >= document.documentElement.scrollHeight - 80,
  );
  const copy = page.locator('.thread li.sms').last().getByRole('button', { name: 'Copy' });
  await copy.click();
  const button = await page.locator('.thread li.sms').last().locator('button.copy').textContent();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  console.log(JSON.stringify({ before, after, codes, copied, button, atBottom }));
} finally {
  await browser.close();
}
