// The two demo flows in Chromium, by clicking (and typing the code a person reads):
//   1. /demo → "Text me a code" → open the sandbox phone → read the code there → type it
//      in the demo → "Verified".
//   2. "Start again" → "Text me a link" → open the sandbox phone → tap the link → the link
//      page confirms → the demo's result page; the waiting view shows the result too.
// Saves screenshots of every page at 360 and 1280 px into ARTIFACTS_DIR, and prints
// {"code": "<h1 at the end>", "countdown": {"label", "disabled", "ja"} (the code page's
//  resend button, and its label for a browser in Japanese), "link": "<h1 on the phone>",
//  "waiting": "<h1 on the demo>", "shots": [...]}.
//
//   node demo_flows.mjs <base url> <artifacts dir>
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const [base, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const shots = [];
// A full-page screenshot at both widths, back at the phone's width afterwards.
async function shoot(page, name) {
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: width === 360 ? 740 : 800 });
    const path = `${artifacts}/${name}-${width}.png`;
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  }
  await page.setViewportSize({ width: 360, height: 740 });
}
const h1 = (page) => page.locator('h1').first().textContent();
try {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  context.setDefaultTimeout(20000);
  const demo = await context.newPage();
  await demo.goto(`${base}/`);
  await shoot(demo, 'home');
  await demo.goto(`${base}/demo`);
  await shoot(demo, 'demo-form');

  // 1. A code. The number field comes filled with a sandbox test number.
  await demo.getByRole('button', { name: 'Text me a code' }).click();
  await demo.waitForURL(/\/demo\/code\//);
  // The resend button waits out the cooldown, saying how long (its data-label).
  const resend = demo.locator('button[value=resend]');
  const countdown = { label: await resend.textContent(), disabled: await resend.isDisabled() };
  // The same page for a browser in Japanese counts down in Japanese.
  const ja = await browser.newContext({ locale: 'ja-JP', viewport: { width: 360, height: 740 } });
  const jaPage = await ja.newPage();
  await jaPage.goto(demo.url());
  countdown.ja = await jaPage.locator('button[value=resend]').textContent();
  await ja.close();
  const [phone] = await Promise.all([
    context.waitForEvent('page'),
    demo.getByRole('link', { name: 'open the sandbox phone' }).click(),
  ]);
  // The SMS shows up by itself (server-sent events) if it was not delivered yet.
  const code = (await phone.locator('.thread li.sms .code').first().textContent()).trim();
  await shoot(phone, 'sandbox-phone');
  await shoot(demo, 'demo-code');
  await demo.getByLabel('Code').fill(code);
  await demo.getByRole('button', { name: 'Verify' }).click();
  await demo.locator('h1', { hasText: 'Verified' }).waitFor();
  await shoot(demo, 'demo-verified');
  const codeEnd = await h1(demo);
  await phone.close();

  // 2. A link, to the same number.
  await demo.getByRole('link', { name: 'Start again' }).click();
  await demo.getByRole('button', { name: 'Text me a link' }).click();
  await demo.waitForURL(/\/demo\/link\//);
  await shoot(demo, 'demo-waiting');
  const [phone2] = await Promise.all([
    context.waitForEvent('page'),
    demo.getByRole('link', { name: 'open the sandbox phone' }).click(),
  ]);
  // Tap the link in the SMS: the link page confirms by itself and lands on the demo.
  await phone2.locator('.thread li.sms a[href*="/l/"]').first().click();
  await phone2.waitForURL(/\/demo\/link\/done\?vfp=/);
  await phone2.locator('h1', { hasText: 'Link confirmed' }).waitFor();
  await shoot(phone2, 'demo-link-result');
  const linkEnd = await h1(phone2);
  // The waiting view refreshes itself into the result.
  await demo.locator('h1', { hasText: 'Link confirmed' }).waitFor();
  const waitingEnd = await h1(demo);
  console.log(JSON.stringify({ code: codeEnd, countdown, link: linkEnd, waiting: waitingEnd, shots }));
} finally {
  await browser.close();
}
