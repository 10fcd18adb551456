// Drives headless Chromium through an owner's portal, as the owner would, for
// crates/cli/tests/portal_browser.rs (which starts the services and writes the configuration).
//
// Usage: node portal.mjs CONFIG.json
// CONFIG: { portal, host, secret, agreementName, agreementId, run: [argv...], screenshots, chromium }
// Exits 0 when every step saw what it must, 1 with the failed step otherwise. Saves a
// screenshot of every page in CONFIG.screenshots.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
mkdirSync(cfg.screenshots, { recursive: true });

function check(condition, what) {
  if (!condition) {
    throw new Error(`step failed: ${what}`);
  }
  console.log(`ok: ${what}`);
}

/** Runs the CLI's `sealroom run`; returns whether the job finished. */
function runFromCli() {
  try {
    execFileSync(cfg.run[0], cfg.run.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    return true;
  } catch (e) {
    console.log(`the run failed as the CLI reports it: ${String(e.stderr).trim().split('\n').pop()}`);
    return false;
  }
}

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const shot = async (name) => {
    await page.screenshot({ path: join(cfg.screenshots, `${name}.png`), fullPage: true });
  };
  // Clicks what navigates, and waits for the new page.
  const follow = async (locator) => {
    await Promise.all([page.waitForNavigation(), locator.click()]);
  };
  const text = async (selector) => (await page.locator(selector).first().innerText()).trim();

  // Sign in.
  await page.goto(`${cfg.portal}/portal/agreements`);
  check(page.url().endsWith('/portal/sign-in'), 'without a session the portal asks to sign in');
  await shot('sign-in');
  await page.getByLabel('Portal secret').fill(cfg.secret);
  await follow(page.getByRole('button', { name: 'Sign in' }));
  const afterSignIn = await text('h1');
  check(afterSignIn === 'Agreements', `signed in, the agreements are listed (page: ${afterSignIn}: ${await text('main')})`);
  check((await page.content()).includes(cfg.agreementId.slice(0, 12)), 'the agreement is in the list');
  await shot('agreements');

  // Open the agreement.
  await follow(page.getByRole('link', { name: cfg.agreementName }));
  const agreement = await page.content();
  check(agreement.includes(cfg.agreementId), 'the agreement page shows its id');
  check(agreement.includes('signed, verified'), 'the signatures are verified');
  check(agreement.includes('Person column'), 'the datasets and schemas are shown');
  await shot('agreement');

  // Binary review: approve.
  await follow(page.getByRole('link', { name: 'Review' }).first());
  check((await text('h1')) === 'Binary review', 'the binary review opens');
  check((await text('#decision')).startsWith('revoked'), 'the isolate starts revoked');
  check((await page.content()).includes('scripts/reproduce-isolate.sh'), 'the review says how to reproduce the measurement');
  await shot('review');
  const reviewUrl = page.url();
  await follow(page.getByRole('button', { name: 'Approve' }));
  check((await text('.notice')).startsWith('Approved'), 'Approve records the approval');
  check((await text('#decision')).startsWith('approved'), 'the review shows the approval');
  await shot('review-approved');

  // The budget before any run.
  await follow(page.getByRole('link', { name: 'Budget' }));
  const runsBefore = Number(await text('.runs'));
  const chartBefore = await page.locator('svg.chart circle').first().getAttribute('cy');

  // A run started from the CLI appears in the processing log with its proof verified.
  check(runFromCli(), 'a run started from the CLI finishes');
  await follow(page.getByRole('link', { name: 'Processing log' }));
  const firstRelease = await text('#releases tbody tr');
  check(firstRelease.includes('proof verified'), 'the release is listed with "proof verified"');
  check((await page.content()).includes('log verified'), 'the log checkpoint is verified');
  await shot('processing-log');

  // Revoke; the next run is refused and the refusal is listed.
  await page.goto(reviewUrl);
  await follow(page.getByRole('button', { name: 'Revoke' }));
  check((await text('#decision')).startsWith('revoked'), 'Revoke records the revocation');
  check(!runFromCli(), 'a run after the revocation is refused');
  await follow(page.getByRole('link', { name: 'Processing log' }));
  check((await text('#refusals tbody tr')).includes('measurement-revoked'), 'the refusal is listed with its reason');
  await shot('processing-log-refused');

  // The budget chart moved by the one release.
  await follow(page.getByRole('link', { name: 'Budget' }));
  const runsAfter = Number(await text('.runs'));
  const chartAfter = await page.locator('svg.chart circle').first().getAttribute('cy');
  check(runsAfter === runsBefore + 1, `the budget counts one more run (${runsBefore} → ${runsAfter})`);
  check(chartAfter !== chartBefore, `the chart moved (${chartBefore} → ${chartAfter})`);
  await shot('budget');

  // Keyboard: the sign-out button is reachable with Tab alone.
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.textContent === 'Sign out');
  }
  check(reached, 'the sign-out button is reachable by keyboard');

  // The public log, without signing in.
  const visitor = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await visitor.goto(`${cfg.host}/log`);
  check((await visitor.locator('#checkpoint').innerText()).includes('\n'), 'the public log shows its checkpoint');
  await visitor.screenshot({ path: join(cfg.screenshots, 'public-log.png'), fullPage: true });
  await Promise.all([visitor.waitForNavigation(), visitor.locator('table a').first().click()]);
  check((await visitor.locator('#proof-status').innerText()) === 'proof verified', 'an entry page verifies its proof');
  await visitor.screenshot({ path: join(cfg.screenshots, 'public-log-entry.png'), fullPage: true });

  // Readable on a phone.
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${cfg.portal}/portal/agreements`);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the page fits a phone's width (overflow ${overflow}px)`);
  await phone.screenshot({ path: join(cfg.screenshots, 'agreements-phone.png'), fullPage: true });
} catch (e) {
  failed = true;
  console.error(String(e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
