// An agent in Node (aauthFetch) against the native resource (aauth-tower) and auth server
// (aauth-issuer) over loopback, started by the aauth-e2e-servers fixture (tests-native/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as aauth from '../pkg/index.js';
import { startFixture } from '../tests-native/fixture.mjs';

const seed = crypto.getRandomValues(new Uint8Array(32));
const key = aauth.generateKey({ seed: seed.slice(), kid: 'key-1' });
let fixture;
let urls;

before(async () => {
  fixture = await startFixture(seed);
  urls = fixture.urls;
});

after(async () => {
  await fixture?.stop();
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

test('POSTs carry a fresh 128-bit Nonce the signature covers; GETs none (digest L§10.5)', async () => {
  const seen = [];
  const capturing = (url, init) => {
    const h = new Headers(init?.headers);
    seen.push({ method: init?.method ?? 'GET', nonce: h.get('nonce'), input: h.get('signature-input') });
    return fetch(url, init);
  };
  for (let i = 0; i < 2; i++) {
    const f = aauth.createAAuthFetch({ key, agentId: urls.agent, fetch: capturing });
    assert.equal((await f(`${urls.resource}/data`)).status, 200);
  }
  const posts = seen.filter((s) => s.method === 'POST');
  assert.equal(posts.length, 2, JSON.stringify(seen));
  for (const p of posts) {
    assert.match(p.nonce, /^[A-Za-z0-9_-]{22}$/);
    assert.match(p.input, /"nonce" "signature-key"\)/);
  }
  assert.notEqual(posts[0].nonce, posts[1].nonce);
  for (const g of seen.filter((s) => s.method === 'GET')) assert.equal(g.nonce, null);
});

test('a node resource verifies a request signed by the agent (jwks via live metadata)', async () => {
  const req = { method: 'GET', url: 'http://resource.test/x' };
  const added = aauth.signRequest(req, { key, scheme: 'jwks', id: urls.agent, kid: 'key-1' });
  // The agent server is on loopback http, which the default egress policy refuses.
  await assert.rejects(aauth.verifyRequest({ ...req, headers: added }, { audience: 'http://resource.test' }), {
    code: 'invalid_signature',
    message: /egress policy refused/,
  });
  const keyCache = new aauth.KeySetCache({ egress: { allowHosts: [new URL(urls.agent).host] } });
  const v = await aauth.verifyRequest({ ...req, headers: added }, { audience: 'http://resource.test', keyCache });
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

test('exchange: resource 1 exchanges the Node agent\'s token at issuer 2 to call resource 2 (act chain)', async () => {
  const f = aauth.createAAuthFetch({ key, agentId: urls.agent, consent: personApproves });
  const res = await f(`${urls.resource}/chain`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  // Resource 1 saw the Node agent with a user-consented token from issuer 1.
  const up = body.upstream;
  assert.equal(up.agent, urls.agent);
  assert.equal(up.scheme, 'jwt');
  assert.equal(up.act, null, 'the original caller has no act chain');
  assert.ok(up.sub, 'a consented token names the user');
  // Resource 2 accepted issuer 2's exchanged token: the requester is resource 1, acting for
  // the Node agent, on behalf of the same user (L§9.10).
  assert.equal(body.downstream_status, 200, JSON.stringify(body));
  const down = body.downstream;
  assert.equal(down.token_type, 'auth+jwt');
  assert.equal(down.agent, urls.resource);
  assert.equal(down.sub, up.sub, 'sub kept across the exchange');
  assert.equal(down.act.agent, urls.agent, JSON.stringify(down));
  assert.ok(down.act.sub === undefined || down.act.sub === up.sub, JSON.stringify(down));
  assert.equal(down.act.act, undefined, 'one hop: no nested act');
  assert.match(down.scope, /data\.read/);
  // The token the Node agent holds is issuer 1's, for resource 1 only.
  const claims = aauth.decodeToken(f.tokens.get(urls.resource).authToken).payload;
  assert.equal(claims.iss, urls.issuer);
  assert.equal(claims.aud, urls.resource);
});

// A fetch that records calls. The concurrent calls below overlap for real: all of them are
// sent before the first 401 comes back, so without single flight each would run the flow.
function recording() {
  const calls = [];
  const fetchFn = (url, init) => {
    calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname} ${init?.body ?? ''}`.trim());
    return fetch(url, init);
  };
  return { calls, fetchFn, count: (re) => calls.filter((c) => re.test(c)).length };
}

test('single flight: concurrent calls to one resource run one token request (autonomous)', async () => {
  const r = recording();
  const f = aauth.createAAuthFetch({ key, agentId: urls.agent, fetch: r.fetchFn });
  const results = await Promise.all(Array.from({ length: 5 }, () => f(`${urls.resource}/data`)));
  for (const res of results) assert.equal(res.status, 200);
  const tokens = await Promise.all(results.map(async (res) => (await res.json()).scope));
  assert.deepEqual(new Set(tokens), new Set(['data.read']));
  assert.equal(r.count(/^POST \/agent\/token/), 1, r.calls.join('\n'));
  assert.equal(r.count(/^GET \/\.well-known\/aauth-issuer/), 1, r.calls.join('\n'));
  // Each call was sent at most twice (identity, then the shared token).
  assert.ok(r.count(/^GET \/data/) <= 10, r.calls.join('\n'));
});

test('single flight: concurrent calls needing consent ask the person once', async () => {
  const r = recording();
  let asked = 0;
  const f = aauth.createAAuthFetch({
    key,
    agentId: urls.agent,
    fetch: r.fetchFn,
    consent: async (req) => {
      asked++;
      return personApproves(req);
    },
  });
  const results = await Promise.all(Array.from({ length: 4 }, () => f(`${urls.resource}/profile`)));
  for (const res of results) assert.equal(res.status, 200);
  assert.equal(asked, 1, 'one consent round for four concurrent calls');
  assert.equal(r.count(/request_type=auth/), 1, r.calls.join('\n'));
  assert.equal(r.count(/request_type=code/), 1, r.calls.join('\n'));
});

test('single flight: concurrent calls near exp refresh once', async () => {
  const r = recording();
  const f = aauth.createAAuthFetch({ key, agentId: urls.agent, consent: personApproves, fetch: r.fetchFn });
  assert.equal((await f(`${urls.resource}/profile`)).status, 200);
  f.tokens.get(urls.resource).exp = Math.floor(Date.now() / 1000) + 30; // inside the margin
  r.calls.length = 0;
  const results = await Promise.all(Array.from({ length: 4 }, () => f(`${urls.resource}/profile`)));
  for (const res of results) assert.equal(res.status, 200);
  assert.equal(r.count(/request_type=refresh/), 1, r.calls.join('\n'));
  assert.equal(r.count(/request_type=(auth|code)/), 0, r.calls.join('\n'));
});

test('single flight: a failed acquisition rejects every waiting call with its code', async () => {
  const f = aauth.createAAuthFetch({ key, agentId: urls.agent }); // no consent hook
  const all = await Promise.allSettled(Array.from({ length: 3 }, () => f(`${urls.resource}/profile`)));
  for (const s of all) {
    assert.equal(s.status, 'rejected');
    assert.equal(s.reason.code, 'consent_required');
  }
  assert.equal(f.tokens.size, 0);
});
