// Opens a one-time link in headless Chromium, as a phone's browser would, and waits until
// the page has sent the browser on to the integrator's target. Prints the final URL and
// which way the page went: {"url": ..., "background": true} when its script made the round
// trip through the operator in the background and then posted `done`.
//
//   node link_click.mjs <link> <target prefix> [--no-script]
//
// With --no-script the page's script is off: the Continue button is tapped instead.
import { chromium } from 'playwright-core';

const [link, target, flag] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const context = await browser.newContext({ javaScriptEnabled: flag !== '--no-script' });
  const page = await context.newPage();
  let background = false;
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/done')) background = true;
  });
  const reached = page.waitForURL((u) => u.href.startsWith(target), { timeout: 20000 });
  await page.goto(link);
  if (flag === '--no-script') {
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await reached;
  console.log(JSON.stringify({ url: page.url(), background }));
} finally {
  await browser.close();
}
