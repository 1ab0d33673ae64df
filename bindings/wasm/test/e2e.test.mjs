// An agent in Node (aauthFetch) against the native resource (aauth-tower) and auth server
// (aauth-issuer) over loopback, started by the aauth-e2e-servers fixture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import * as aauth from '../pkg/index.js';

const targetDir = process.env.CARGO_TARGET_DIR ?? new URL('../../../target', import.meta.url).pathname;
const bin = `${targetDir}/debug/aauth-e2e-servers`;

const seed = crypto.getRandomValues(new Uint8Array(32));
const seedB64 = Buffer.from(seed).toString('base64url');
const key = aauth.generateKey({ seed: seed.slice(), kid: 'key-1' });
let child;
let urls;

before(async () => {
  assert.ok(existsSync(bin), `${bin} is built by build.sh`);
  child = spawn(bin, [], { env: { ...process.env, AGENT_SEED: seedB64 }, stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout });
  urls = await new Promise((resolve, reject) => {
    rl.once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (c) => reject(new Error(`fixture exited ${c}`)));
  });
});

after(() => {
  child?.stdin.end();
});

test('hwk: a pseudonymous signature passes a signature-only route', async () => {
  const f = aauth.createAAuthFetch({ key });
  const res = await f(`${urls.resource}/open`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.scheme, 'hwk');
  assert.equal(body.thumbprint, aauth.thumbprint(key));
});

test('hwk on an identified route: identity_required', async () => {
  const f = aauth.createAAuthFetch({ key });
  await assert.rejects(f(`${urls.resource}/whoami`), { code: 'identity_required' });
});

test('jwks: the agent server identity is verified by the resource', async () => {
  const f = aauth.createAAuthFetch({ key, agentId: urls.agent });
  const res = await f(`${urls.resource}/whoami`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).agent, urls.agent);
});

test('autonomous: challenge -> token request -> retry with the auth token, then cached', async () => {
  const calls = [];
  const logging = (url, init) => {
    calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
    return fetch(url, init);
  };
  const f = aauth.createAAuthFetch({ key, agentId: urls.agent, fetch: logging });
  const res = await f(`${urls.resource}/data`);
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.equal(body.scheme, 'jwt');
  assert.equal(body.agent, urls.agent);
  assert.match(body.scope, /data\.read/);
  assert.deepEqual(calls, ['GET /data', 'GET /.well-known/aauth-issuer', 'POST /agent/token', 'GET /data']);
  const t = f.tokens.get(urls.resource);
  assert.ok(t.authToken);
  const claims = aauth.decodeToken(t.authToken).payload;
  assert.equal(claims.iss, urls.issuer);
  assert.equal(claims.aud, urls.resource);

  calls.length = 0;
  const again = await f(`${urls.resource}/data`);
  assert.equal(again.status, 200);
  assert.deepEqual(calls, ['GET /data'], 'the cached token is reused');
});

test('a node resource verifies a request signed by the agent (jwks via live metadata)', async () => {
  const req = { method: 'GET', url: 'http://resource.test/x' };
  const added = aauth.signRequest(req, { key, scheme: 'jwks', id: urls.agent, kid: 'key-1' });
  const v = await aauth.verifyRequest({ ...req, headers: added }, { audience: 'http://resource.test' });
  assert.equal(v.scheme, 'jwks');
  assert.equal(v.agent, urls.agent);
});

// The consent hook plays the person: it drives the auth server's HTML pages (sign in,
// approve) with its own cookie jar and hands back the code from the redirect.
async function personApproves({ url, redirectUri }) {
  const jar = new Map();
  const keep = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const u = new URL(url);
  const requestToken = u.searchParams.get('request_token');
  const endpoint = `${u.origin}${u.pathname}`;
  const page = keep(await fetch(url, { redirect: 'manual' }));
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Sign in/);
  const post = async (fields) =>
    keep(await fetch(endpoint, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
      body: new URLSearchParams({ request_token: requestToken, redirect_uri: redirectUri, ...fields }).toString(),
    }));
  const login = await post({ action: 'login', username: 'testuser', password: 'testpass' });
  assert.equal(login.status, 303);
  const consentPage = keep(await fetch(new URL(login.headers.get('location'), endpoint), { headers: { cookie: cookie() }, redirect: 'manual' }));
  assert.match(await consentPage.text(), /Approve/);
  const decided = await post({ consent: 'grant' });
  assert.equal(decided.status, 303);
  const back = new URL(decided.headers.get('location'));
  assert.equal(`${back.origin}${back.pathname}`, redirectUri);
  return back.searchParams.get('code');
}

test('consent: request_token -> consent hook (person approves) -> code -> auth token', async () => {
  const seen = [];
  const f = aauth.createAAuthFetch({
    key,
    agentId: urls.agent,
    consent: async (req) => {
      seen.push(req);
      return personApproves(req);
    },
  });
  const res = await f(`${urls.resource}/profile`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.match((await res.json()).scope, /profile/);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].authServer, urls.issuer);
  assert.equal(seen[0].redirectUri, `${urls.agent}/callback`);
  assert.ok(f.tokens.get(urls.resource).refreshToken, 'a user-consented token comes with a refresh token');
});

test('refresh: an auth token near exp is refreshed with request_type=refresh', async () => {
  const calls = [];
  const f = aauth.createAAuthFetch({
    key,
    agentId: urls.agent,
    consent: personApproves,
    fetch: (url, init) => {
      calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname} ${init?.body ?? ''}`.trim());
      return fetch(url, init);
    },
  });
  assert.equal((await f(`${urls.resource}/profile`)).status, 200);
  const first = f.tokens.get(urls.resource);
  // Pretend the token expires in 30 s (inside the 60 s refresh margin); moving the agent's
  // clock instead would make its signatures "created in the future" for the resource.
  first.exp = Math.floor(Date.now() / 1000) + 30;
  const firstToken = first.authToken;
  calls.length = 0;
  const res = await f(`${urls.resource}/profile`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.ok(calls.some((c) => c.includes('request_type=refresh')), calls.join('\n'));
  // The cache holds the refresh answer: its exp comes from the new token, not the 30 s we
  // forced. (Within the same second the issuer may re-issue a byte-identical token, since
  // Ed25519 is deterministic and iat/exp are whole seconds, so compare exp, not bytes.)
  assert.ok(f.tokens.get(urls.resource).exp > first.exp, 'refreshed token replaced the entry');
  void firstToken;
  assert.ok(!calls.some((c) => c.includes('request_type=auth')), 'no new consent round');
});
