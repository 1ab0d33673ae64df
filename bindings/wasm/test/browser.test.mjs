// The package in a real browser: headless Chromium (Debian `chromium`, driven by
// playwright-core) loads a page from a loopback origin that imports the package (ESM + wasm),
// calls the native resource (aauth-tower, another origin: CORS), is sent by the consent
// hook to the real auth server's pages (aauth-issuer), signs in, approves, comes back to the
// page's redirect URI with the code, and the page shows the resource's answer.
//
// tests/run-all.sh installs chromium when it is missing; without /usr/bin/chromium this
// file skips with a message outside CI (the only allowed skip); under CI=true it fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as aauth from '../pkg/index.js';
import { startFixture } from '../tests-native/fixture.mjs';

const CHROMIUM = process.env.AAUTH_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
// Under CI the test command has installed chromium, so a missing browser fails the test.
const skip = haveChromium || process.env.CI === 'true'
  ? false
  : `${CHROMIUM} not found (tests/run-all.sh installs Debian chromium)`;

const pkgDir = fileURLToPath(new URL('../pkg/', import.meta.url));
const pageDir = fileURLToPath(new URL('./browser/', import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

const seed = crypto.getRandomValues(new Uint8Array(32));
const key = aauth.generateKey({ seed: seed.slice(), kid: 'key-1' });
let fixture;
let site;
let server;
let context;
let profileDir;

// The page's own origin: the two HTML files, the built package under /pkg/, and the
// agent's configuration (its key and the fixture's URLs).
function serveSite(config) {
  return new Promise((resolve) => {
    server = createServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      let file;
      if (path === '/config.json') {
        res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' });
        res.end(JSON.stringify(config));
        return;
      }
      if (path.startsWith('/pkg/')) file = join(pkgDir, normalize(path.slice(5)));
      else if (path === '/index.html' || path === '/callback.html') file = join(pageDir, path.slice(1));
      if (!file || !file.startsWith(pkgDir.slice(0, -1)) && !file.startsWith(pageDir.slice(0, -1)) || !existsSync(file)) {
        res.writeHead(404).end('not found');
        return;
      }
      const ext = file.slice(file.lastIndexOf('.'));
      res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(readFileSync(file));
    });
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

before(async () => {
  if (skip) return;
  fixture = await startFixture(seed);
  site = await serveSite({ key, agent: fixture.urls.agent, resource: fixture.urls.resource });
  const { chromium } = await import('playwright-core');
  // A fresh profile every run; the flags keep Chromium off the network (the machine's
  // network is closed, and background services would only produce refused connections).
  profileDir = mkdtempSync(join(tmpdir(), 'aauth-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  context.setDefaultTimeout(20000);
});

after(async () => {
  await context?.close().catch(() => {});
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  await fixture?.stop();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

test('browser: page -> resource challenge -> consent page (sign in, approve) -> code -> data', { skip, timeout: 90000 }, async () => {
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const diag = () => logs.join('\n');

  await page.goto(`${site}/index.html`);
  // The consent hook got the auth server's URL and shows it to the person.
  const link = page.locator('#consent-link');
  await link.waitFor().catch((e) => assert.fail(`no consent link: ${e.message}\n${diag()}`));
  const href = await link.getAttribute('href');
  const consentUrl = new URL(href);
  assert.equal(consentUrl.origin, fixture.urls.issuer, href);
  assert.equal(consentUrl.pathname, '/agent/auth');
  assert.equal(consentUrl.searchParams.get('redirect_uri'), `${site}/callback.html`);

  // The person clicks it: the auth server's sign-in page opens in a popup.
  const [popup] = await Promise.all([page.waitForEvent('popup'), link.click()]);
  popup.on('console', (m) => logs.push(`popup console.${m.type()}: ${m.text()}`));
  await popup.waitForLoadState();
  assert.equal(new URL(popup.url()).origin, fixture.urls.issuer);
  assert.match(await popup.locator('h1').textContent(), /Sign in/);
  await popup.fill('#username', 'testuser');
  await popup.fill('#password', 'testpass');
  await popup.click('button[type=submit]');
  // The consent page lists the scope; approve.
  await popup.locator('h1', { hasText: 'Authorize access' }).waitFor();
  assert.match(await popup.locator('.scopes').textContent(), /profile/);
  await popup.click('button[value=grant]');

  // Back on the page: the code came home via /callback.html; the page finishes the flow.
  await page.locator('#status', { hasText: /^(done|failed)$/ }).waitFor().catch((e) => assert.fail(`${e.message}\n${diag()}`));
  const result = JSON.parse(await page.locator('#result').textContent());
  assert.equal(result.status, 200, `${JSON.stringify(result)}\n${diag()}`);
  assert.equal(result.body.agent, fixture.urls.agent);
  assert.equal(result.body.scheme, 'jwt');
  assert.equal(result.body.token_type, 'auth+jwt');
  assert.match(result.body.scope, /profile/);
  assert.ok(result.body.sub, 'the token names the person who approved');
  assert.equal(result.body.thumbprint, aauth.thumbprint(key), 'signed by the key the page holds');
  assert.equal(result.hasRefreshToken, true);
});
