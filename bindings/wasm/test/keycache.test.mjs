// verifyRequest's key-set cache (KeySetCache): the warm path fetches nothing, Cache-Control
// lifetimes clamped as aauth-discovery clamps them, shared in-flight fetches, failures not
// kept, and the once-a-minute refetch for an unknown kid (digest S-23). Time is injected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as aauth from '../pkg/index.js';

const T0 = 1_768_785_919;
const RESOURCE = 'https://resource.example';
const key1 = aauth.generateKey({ seed: new Uint8Array(32).fill(1), kid: 'key-1' });
const key2 = aauth.generateKey({ seed: new Uint8Array(32).fill(2), kid: 'key-2' });

/** A GET to the resource signed at `now` by `key` as agent `id` (scheme=jwks). */
function signed(now, { key = key1, id = 'https://agent.example' } = {}) {
  const req = { method: 'GET', url: `${RESOURCE}/data` };
  return { ...req, headers: aauth.signRequest(req, { key, scheme: 'jwks', id, kid: key.kid, now }) };
}

/**
 * A fake network for agents: metadata + JWKS per agent origin, each response with
 * `cacheControl`; counts requests per URL. `jwks[origin]` can be replaced to rotate keys;
 * `fail` makes the next N requests answer 500; `delay` holds every answer for N ms.
 */
function network({ cacheControl = null, delay = 0 } = {}) {
  const net = { calls: new Map(), fail: 0, cacheControl, jwks: {}, metadata: {} };
  net.total = () => [...net.calls.values()].reduce((a, b) => a + b, 0);
  net.fetch = async (url) => {
    net.calls.set(url, (net.calls.get(url) ?? 0) + 1);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const headers = net.cacheControl ? { 'cache-control': net.cacheControl } : {};
    if (net.fail > 0) {
      net.fail--;
      return new Response('down', { status: 500 });
    }
    const u = new URL(url);
    if (u.pathname === '/.well-known/aauth-agent') {
      const md = net.metadata[u.origin] ?? { agent: u.origin, jwks_uri: `${u.origin}/jwks.json` };
      return Response.json(md, { headers });
    }
    const keys = net.jwks[u.origin] ?? [aauth.publicJwk(key1)];
    return Response.json({ keys }, { headers });
  };
  return net;
}

const opts = (net, keyCache, now) => ({ audience: RESOURCE, now, fetch: net.fetch, keyCache });

test('warm path: repeated verifications fetch nothing', async () => {
  const net = network({ cacheControl: 'max-age=600' });
  const keyCache = new aauth.KeySetCache();
  for (let i = 0; i < 10; i++) {
    const v = await aauth.verifyRequest(signed(T0 + i), opts(net, keyCache, T0 + i));
    assert.equal(v.agent, 'https://agent.example');
  }
  assert.equal(net.total(), 2, 'metadata and JWKS once');
  assert.deepEqual({ ...keyCache.stats }, { hits: 18, fetches: 2, evictions: 0 });
  assert.equal(keyCache.size, 2);
  // keyCache: false opts out: every verification fetches both documents again.
  await aauth.verifyRequest(signed(T0), opts(net, false, T0));
  assert.equal(net.total(), 4);
});

test('the default cache is shared by every verifyRequest without keyCache', async () => {
  const net = network();
  const id = 'https://default-cache.example';
  for (let i = 0; i < 3; i++) {
    await aauth.verifyRequest(signed(T0, { id }), { audience: RESOURCE, now: T0, fetch: net.fetch });
  }
  assert.equal(net.total(), 2);
  assert.ok(aauth.defaultKeyCache.size >= 2);
});

test('Cache-Control max-age is honoured, clamped to 60 s .. 24 h; 5 min without it', async () => {
  const c = new aauth.KeySetCache();
  assert.equal(c.lifetime('public, max-age=600'), 600);
  assert.equal(c.lifetime('max-age="120"'), 120);
  assert.equal(c.lifetime('MAX-AGE=5'), 60);
  assert.equal(c.lifetime('max-age=99999999999999999999999'), 86_400);
  assert.equal(c.lifetime(null), 300);
  assert.equal(c.lifetime('private'), 300);
  assert.equal(c.lifetime('max-age=-1'), 60);
  assert.equal(c.lifetime('max-age=600, no-store'), 60);
  assert.equal(new aauth.KeySetCache({ minTtl: 1 }).minTtl, 60, 'never below the refetch floor');

  for (const [cc, life] of [['max-age=600', 600], ['max-age=5', 60], ['max-age=999999999', 86_400], [null, 300]]) {
    const net = network({ cacheControl: cc });
    const keyCache = new aauth.KeySetCache();
    await aauth.verifyRequest(signed(T0), opts(net, keyCache, T0));
    const before = T0 + life - 1;
    await aauth.verifyRequest(signed(before), opts(net, keyCache, before));
    assert.equal(net.total(), 2, `${cc}: still fresh at ${life - 1} s`);
    const at = T0 + life;
    await aauth.verifyRequest(signed(at), opts(net, keyCache, at));
    assert.equal(net.total(), 4, `${cc}: refetched at ${life} s`);
  }
});

test('no-store and no-cache are kept only for the 60 s floor', async () => {
  for (const cc of ['no-store', 'no-cache', 'max-age=3600, no-store']) {
    const net = network({ cacheControl: cc });
    const keyCache = new aauth.KeySetCache();
    await aauth.verifyRequest(signed(T0), opts(net, keyCache, T0));
    await aauth.verifyRequest(signed(T0 + 59), opts(net, keyCache, T0 + 59));
    assert.equal(net.total(), 2, `${cc}: not refetched within the floor`);
    await aauth.verifyRequest(signed(T0 + 60), opts(net, keyCache, T0 + 60));
    assert.equal(net.total(), 4, `${cc}: not kept past the floor (a 5 min default would keep it)`);
  }
});

test('concurrent verifications share one fetch per URL', async () => {
  const net = network({ delay: 20 });
  const keyCache = new aauth.KeySetCache();
  const all = await Promise.all(Array.from({ length: 10 }, () => aauth.verifyRequest(signed(T0), opts(net, keyCache, T0))));
  assert.equal(all.length, 10);
  assert.deepEqual([...net.calls.values()], [1, 1]);
  assert.equal(keyCache.stats.fetches, 2);
});

test('a failed fetch is not kept: the next verification fetches again', async () => {
  const net = network();
  const keyCache = new aauth.KeySetCache();
  net.fail = 1;
  await assert.rejects(aauth.verifyRequest(signed(T0), opts(net, keyCache, T0)), { code: 'invalid_signature', message: /HTTP 500/ });
  assert.equal(keyCache.size, 0);
  await aauth.verifyRequest(signed(T0 + 1), opts(net, keyCache, T0 + 1));
  assert.equal(net.total(), 3);
  // ... and once it succeeded, it is kept.
  await aauth.verifyRequest(signed(T0 + 2), opts(net, keyCache, T0 + 2));
  assert.equal(net.total(), 3);
});

test('an unknown kid refetches the JWKS at most once a minute (key rotation)', async () => {
  const net = network({ cacheControl: 'max-age=3600' });
  const keyCache = new aauth.KeySetCache();
  const jwksUrl = 'https://agent.example/jwks.json';
  await aauth.verifyRequest(signed(T0), opts(net, keyCache, T0));
  // The agent rotates to key-2 and publishes it; our copy is fresh for an hour.
  net.jwks['https://agent.example'] = [aauth.publicJwk(key1), aauth.publicJwk(key2)];
  // Within a minute of the last fetch: no refetch, the unknown kid is refused.
  await assert.rejects(aauth.verifyRequest(signed(T0 + 30, { key: key2 }), opts(net, keyCache, T0 + 30)), { code: 'invalid_signature' });
  assert.equal(net.calls.get(jwksUrl), 1);
  // A minute on: one refetch, and key-2 verifies; the metadata is not fetched again.
  await aauth.verifyRequest(signed(T0 + 60, { key: key2 }), opts(net, keyCache, T0 + 60));
  assert.equal(net.calls.get(jwksUrl), 2);
  assert.equal(net.total(), 3);
  // A flood of unknown kids right after: still one fetch a minute.
  const bogus = aauth.generateKey({ kid: 'bogus' });
  for (let i = 0; i < 5; i++) {
    await assert.rejects(aauth.verifyRequest(signed(T0 + 61 + i, { key: bogus }), opts(net, keyCache, T0 + 61 + i)), { code: 'invalid_signature' });
  }
  assert.equal(net.calls.get(jwksUrl), 2);
  // Known kids are served from the cache throughout.
  await aauth.verifyRequest(signed(T0 + 70), opts(net, keyCache, T0 + 70));
  assert.equal(net.total(), 3);
});

test('the cache holds at most `capacity` URLs, least recently used out first', async () => {
  const net = network();
  const keyCache = new aauth.KeySetCache({ capacity: 3 });
  const agents = ['https://a.example', 'https://b.example', 'https://c.example'];
  for (const id of agents) {
    await aauth.verifyRequest(signed(T0, { id }), opts(net, keyCache, T0));
    assert.ok(keyCache.size <= 3);
  }
  assert.equal(keyCache.size, 3);
  assert.equal(keyCache.stats.evictions, 3);
  // c's two documents and b's JWKS are held; a verification of c fetches nothing.
  const before = net.total();
  await aauth.verifyRequest(signed(T0, { id: agents[2] }), opts(net, keyCache, T0));
  assert.equal(net.total(), before);
  await aauth.verifyRequest(signed(T0, { id: agents[0] }), opts(net, keyCache, T0));
  assert.equal(net.total(), before + 2);
});

test('metadata must name the agent it was fetched for and keep its jwks_uri on its origin', async () => {
  const net = network();
  const refused = async (id, pattern) => {
    await assert.rejects(aauth.verifyRequest(signed(T0, { id }), opts(net, false, T0)), (e) => {
      assert.equal(e.code, 'invalid_signature');
      assert.match(e.message, pattern);
      return true;
    });
  };
  // Another agent's identifier in the document: a mix-up, refused before any JWKS fetch.
  const a = 'https://mixup.example';
  net.metadata[a] = { agent: 'https://other.example', jwks_uri: `${a}/jwks.json` };
  await refused(a, /names agent "https:\/\/other.example"/);
  assert.equal(net.calls.get(`${a}/jwks.json`), undefined);
  // A mismatching `issuer` member is refused too; a matching one is fine.
  net.metadata[a] = { issuer: 'https://other.example', jwks_uri: `${a}/jwks.json` };
  await refused(a, /names issuer/);
  net.metadata[a] = { issuer: a, jwks_uri: `${a}/jwks.json` };
  assert.equal((await aauth.verifyRequest(signed(T0, { id: a }), opts(net, false, T0))).agent, a);

  // jwks_uri on another origin: refused unless allowed explicitly.
  const b = 'https://crossorigin.example';
  net.metadata[b] = { agent: b, jwks_uri: 'https://keys.elsewhere.example/jwks.json' };
  await refused(b, /another origin/);
  assert.equal(net.calls.get('https://keys.elsewhere.example/jwks.json'), undefined);
  const allowed = { ...opts(net, false, T0), allowCrossOriginJwksUri: true };
  assert.equal((await aauth.verifyRequest(signed(T0, { id: b }), allowed)).agent, b);
  assert.equal(net.calls.get('https://keys.elsewhere.example/jwks.json'), 1);

  // Not a URL, not http(s), not an object.
  const c = 'https://badmeta.example';
  net.metadata[c] = { agent: c, jwks_uri: 'not a url' };
  await refused(c, /is not a URL/);
  net.metadata[c] = { agent: c, jwks_uri: 'ftp://badmeta.example/jwks.json' };
  await refused(c, /is not http/);
  net.metadata[c] = ['not', 'an', 'object'];
  await refused(c, /is not a JSON object/);
});
