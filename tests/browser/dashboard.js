// SPDX-License-Identifier: Apache-2.0
// dashboard.js - drives the real dashboard in Debian's headless Chromium (playwright-core):
// a wrong password shows the server's error; the right one signs in; create a tenant whose
// name contains markup (it must show as text); create a project and edit it (If-Match);
// create an API token (secret shown once); the audit tab lists those changes; sign out
// returns to the login view. Fails on any uncaught page error.
// Usage: node dashboard.js <base url> <email> <password> <screenshot dir>
const { chromium } = require('playwright-core');
const assert = require('assert');

(async () => {
  const [url, email, password, shots] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.GF_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.setDefaultTimeout(20000);
  const button = (text) => page.click(`button:has-text("${text}")`);
  try {
    await page.goto(url + '/');
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'not-the-password-1');
    await button('Sign in');
    assert.match(await page.textContent('.error'), /wrong e-mail or password/);

    await page.fill('input[name=password]', password);
    await button('Sign in');
    await page.waitForSelector('text=New tenant');
    assert.equal(await page.textContent('#who'), email);

    const slug = 'north-' + Date.now();
    await page.fill('input[name=name]', 'North <b>Gas</b>');
    await page.fill('input[name=slug]', slug);
    await button('Create');
    await page.waitForSelector('text=New project');
    assert.match(await page.textContent('h1'), /North <b>Gas<\/b>/); // shown as text
    assert.equal(await page.locator('h1 b').count(), 0);

    await page.fill('input[name=name]', 'Gate stations');
    await button('Create');
    await page.waitForSelector('text=Delete project');
    await page.fill('input[name=description]', 'Orenburg region');
    await button('Save');
    await page.waitForSelector('text=Saved.');

    await page.goto(url + '/#/tokens');
    await page.waitForSelector('text=New token');
    await page.fill('input[name=name]', 'ci-script');
    await button('Create');
    const secret = await page.textContent('.secret');
    assert.match(secret, /^gft_[A-Za-z0-9_-]{40}$/);
    await page.waitForSelector('td:has-text("ci-script")');

    await page.goto(url + '/#/tenants');
    await page.click('a:has-text("North")');
    await page.click('a:has-text("audit")');
    for (const action of ['tenant.create', 'project.create', 'project.update', 'token.create']) {
      await page.waitForSelector(`td:has-text("${action}")`);
    }
    await page.screenshot({ path: `${shots}/audit.png`, fullPage: true });

    await button('Sign out');
    await page.waitForSelector('text=Sign in to gatefleet');
    assert.deepEqual(pageErrors, []);
    console.log('dashboard: 1 passed, 0 failed');
  } catch (e) {
    await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
    console.error(e);
    console.log('dashboard: 0 passed, 1 failed');
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
