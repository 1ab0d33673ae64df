// verifyRequest's key-set cache (KeySetCache): the warm path fetches nothing, Cache-Control
// lifetimes clamped as aauth-discovery clamps them, shared in-flight fetches, failures
// remembered for the negative TTL, the once-a-minute refetch for an unknown kid (digest S-23),
// and egress admission with size and time limits before any fetch (§3.6, S-22). Time is
// injected; the servers are on loopback.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import * as aauth from '../pkg/index.js';

// A refusal must be a rejected promise, never an unhandled one (checked by the last test).
const unhandled = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

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
  assert.deepEqual({ ...keyCache.stats }, { hits: 18, negativeHits: 0, fetches: 2, evictions: 0 });
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

test('a failed fetch is remembered for negativeTtl (60 s): no fetch within it, then one', async () => {
  const net = network();
  const keyCache = new aauth.KeySetCache();
  net.fail = 1;
  await assert.rejects(aauth.verifyRequest(signed(T0), opts(net, keyCache, T0)), { code: 'invalid_signature', message: /HTTP 500/ });
  assert.equal(net.total(), 1);
  // Within the negative TTL: refused with the same failure, nothing fetched.
  for (const t of [T0 + 1, T0 + 59]) {
    await assert.rejects(aauth.verifyRequest(signed(t), opts(net, keyCache, t)), { code: 'invalid_signature', message: /HTTP 500/ });
  }
  assert.equal(net.total(), 1);
  assert.deepEqual({ ...keyCache.stats }, { hits: 0, negativeHits: 2, fetches: 1, evictions: 0 });
  // Expired: fetched again, and once it succeeded, it is kept.
  await aauth.verifyRequest(signed(T0 + 60), opts(net, keyCache, T0 + 60));
  assert.equal(net.total(), 3);
  await aauth.verifyRequest(signed(T0 + 61), opts(net, keyCache, T0 + 61));
  assert.equal(net.total(), 3);
  assert.equal(keyCache.stats.negativeHits, 2);
});

test('negativeTtl is configurable, never below the 60 s floor', async () => {
  assert.equal(new aauth.KeySetCache().negativeTtl, 60);
  assert.equal(new aauth.KeySetCache({ negativeTtl: 1 }).negativeTtl, 60);
  const net = network();
  const keyCache = new aauth.KeySetCache({ negativeTtl: 300 });
  net.fail = 1;
  await assert.rejects(aauth.verifyRequest(signed(T0), opts(net, keyCache, T0)), { code: 'invalid_signature' });
  await assert.rejects(aauth.verifyRequest(signed(T0 + 299), opts(net, keyCache, T0 + 299)), { message: /HTTP 500/ });
  assert.equal(net.total(), 1);
  await aauth.verifyRequest(signed(T0 + 300), opts(net, keyCache, T0 + 300));
  assert.equal(net.total(), 3);
});

test('concurrent lookups share one failing fetch and its failure', async () => {
  const net = network({ delay: 20 });
  const keyCache = new aauth.KeySetCache();
  net.fail = 1;
  const all = await Promise.allSettled(Array.from({ length: 10 }, () => aauth.verifyRequest(signed(T0), opts(net, keyCache, T0))));
  assert.deepEqual(all.map((r) => r.status), Array(10).fill('rejected'));
  for (const r of all) {
    assert.equal(r.reason.code, 'invalid_signature');
    assert.match(r.reason.message, /HTTP 500/);
  }
  assert.equal(net.total(), 1, 'one request for ten lookups');
  assert.deepEqual({ ...keyCache.stats }, { hits: 0, negativeHits: 9, fetches: 1, evictions: 0 });
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

// ---------------------------------------------------------------------------------------------
// Egress admission, size and time limits (digest §3.6, S-22; aauth-discovery's egress.rs)

test('classifyIp matches aauth-discovery classify_ip', () => {
  const table = {
    '8.8.8.8': 'public', '1.1.1.1': 'public', '127.0.0.1': 'loopback', '127.255.0.9': 'loopback',
    '10.0.0.1': 'private', '172.16.0.1': 'private', '172.31.255.255': 'private', '172.32.0.1': 'public',
    '192.168.1.1': 'private', '100.64.0.1': 'private', '100.127.255.255': 'private', '100.128.0.1': 'public',
    '169.254.169.254': 'linkLocal', '0.0.0.0': 'unspecified', '0.1.2.3': 'reserved',
    '255.255.255.255': 'broadcast', '224.0.0.1': 'multicast', '239.255.255.250': 'multicast',
    '240.0.0.1': 'reserved', '192.0.2.1': 'documentation', '198.51.100.7': 'documentation',
    '203.0.113.9': 'documentation', '198.18.0.1': 'reserved', '192.0.0.8': 'reserved',
    '0x7f.1': 'loopback', '2130706433': 'loopback',
    '2606:4700:4700::1111': 'public', '::1': 'loopback', '::': 'unspecified', 'fc00::1': 'private',
    'fd12:3456::1': 'private', 'fe80::1': 'linkLocal', 'febf::1': 'linkLocal', 'fec0::1': 'private',
    'ff02::1': 'multicast', '2001:db8::1': 'documentation', '3fff::1': 'documentation',
    '2001::1': 'reserved', '100::1': 'reserved', '::127.0.0.1': 'reserved', '4000::1': 'reserved',
    '::ffff:127.0.0.1': 'loopback', '::ffff:10.0.0.1': 'private', '::ffff:169.254.169.254': 'linkLocal',
    '::ffff:0.0.0.0': 'unspecified', '::ffff:8.8.8.8': 'public', '64:ff9b::127.0.0.1': 'loopback',
    '64:ff9b::a9fe:a9fe': 'linkLocal', '64:ff9b::192.168.0.1': 'private', '64:ff9b::8.8.8.8': 'public',
    '64:ff9b:1::1': 'private', '2002:7f00:1::1': 'loopback', '2002:0a00:1::': 'private',
    '2002:0808:0808::1': 'public',
  };
  for (const [ip, cls] of Object.entries(table)) assert.equal(aauth.classifyIp(ip), cls, ip);
  for (const notIp of ['agent.example', 'localhost', '', '1.2.3.4.5', '[::1', 'a b']) assert.equal(aauth.classifyIp(notIp), null, notIp);
});

/** A fetch that records its calls and answers a one-key JWKS. */
function spyFetch() {
  const calls = [];
  const f = async (url) => {
    calls.push(url);
    return Response.json({ keys: [aauth.publicJwk(key1)] });
  };
  return Object.assign(f, { calls });
}

test('the default policy refuses internal targets, credentials and http before any fetch', async () => {
  const refused = {
    loopback: ['https://127.0.0.1/jwks', 'https://[::1]/jwks', 'https://0x7f.1/jwks', 'https://2130706433/jwks', 'https://localhost/jwks', 'https://api.localhost./jwks'],
    private: ['https://10.0.0.1/jwks', 'https://192.168.1.1/jwks', 'https://172.16.0.1/jwks', 'https://100.64.0.1/jwks', 'https://[fd00::1]/jwks'],
    'link-local / metadata': ['https://169.254.169.254/latest/meta-data', 'https://[fe80::1]/jwks'],
    'mapped / embedded IPv6': ['https://[::ffff:127.0.0.1]/jwks', 'https://[::ffff:a9fe:a9fe]/jwks', 'https://[64:ff9b::7f00:1]/jwks', 'https://[2002:7f00:1::]/jwks'],
    other: ['https://0.0.0.0/jwks', 'https://[::]/jwks', 'https://255.255.255.255/jwks', 'https://224.0.0.1/jwks', 'https://192.0.2.1/jwks'],
    credentials: ['https://user:pw@agent.example/jwks', 'https://user@agent.example/jwks'],
    'http not allowed': ['http://agent.example/jwks', 'http://169.254.169.254/latest/meta-data'],
    scheme: ['ftp://agent.example/jwks', 'file:///etc/passwd'],
  };
  const fetch = spyFetch();
  const keyCache = new aauth.KeySetCache();
  for (const [kind, urls] of Object.entries(refused)) {
    for (const url of urls) {
      await assert.rejects(keyCache.get(url, { fetch, now: T0 }), (e) => {
        assert.ok(e instanceof aauth.AAuthError, `${kind} ${url}`);
        assert.equal(e.code, 'invalid_signature', `${kind} ${url}`);
        assert.match(e.message, /egress policy refused/, `${kind} ${url}`);
        return true;
      });
      // Without a cache (keyCache: false) the same policy applies.
      await assert.rejects(aauth.fetchKeySet({ source: { jwks: url }, kid: null }, { fetch }), { code: 'invalid_signature', message: /egress policy refused/ });
    }
  }
  assert.deepEqual(fetch.calls, [], 'nothing refused was fetched');
  assert.equal(keyCache.stats.fetches, 0);
  await assert.rejects(keyCache.get('not a url', { fetch, now: T0 }), { code: 'invalid_request' });
  // A name or a public address over https is fetched.
  for (const url of ['https://agent.example/jwks', 'https://8.8.8.8/jwks', 'https://[2606:4700:4700::1111]/jwks']) {
    await keyCache.get(url, { fetch, now: T0 });
  }
  assert.equal(fetch.calls.length, 3);
});

test('verifyRequest refuses an agent naming an internal host, without fetching', async () => {
  const net = network();
  for (const id of ['https://169.254.169.254', 'https://10.0.0.1', 'https://[::ffff:127.0.0.1]', 'http://agent.example']) {
    await assert.rejects(aauth.verifyRequest(signed(T0, { id }), opts(net, new aauth.KeySetCache(), T0)), { code: 'invalid_signature', message: /egress policy refused/ });
    await assert.rejects(aauth.verifyRequest(signed(T0, { id }), opts(net, false, T0)), { code: 'invalid_signature', message: /egress policy refused/ });
  }
  // A jwks_uri pointing inside is refused too (allowed cross-origin, to reach the check).
  const a = 'https://pivot.example';
  net.metadata[a] = { agent: a, jwks_uri: 'https://169.254.169.254/jwks.json' };
  await assert.rejects(aauth.verifyRequest(signed(T0, { id: a }), { ...opts(net, false, T0), allowCrossOriginJwksUri: true }), { message: /egress policy refused/ });
  assert.deepEqual([...net.calls.keys()], [`${a}/.well-known/aauth-agent`]);
});

/** A loopback HTTP server running `handler`; `.url`, `.host`, `.hits`, `.close()`. */
async function serve(handler) {
  const server = createServer((req, res) => {
    s.hits++;
    handler(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const s = { hits: 0, host: `127.0.0.1:${server.address().port}` };
  s.url = `http://${s.host}`;
  s.close = () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  };
  servers.push(s);
  return s;
}
const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

const jwksHandler = (req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ keys: [aauth.publicJwk(key1)] }));
};

test('allowHosts admits named loopback authorities; dev() and allow* widen by class', async () => {
  const peer = await serve(jwksHandler);
  const url = `${peer.url}/jwks.json`;
  await assert.rejects(new aauth.KeySetCache().get(url, { now: T0 }), { message: /egress policy refused .*http is not allowed/ });
  await assert.rejects(new aauth.KeySetCache({ egress: { allowHttp: true } }).get(url, { now: T0 }), { message: /loopback address/ });
  await assert.rejects(new aauth.KeySetCache({ egress: { allowHosts: ['127.0.0.1:1'] } }).get(url, { now: T0 }), { message: /egress policy refused/ });
  assert.equal(peer.hits, 0);
  for (const egress of [{ allowHosts: [peer.host] }, { allowHosts: ['127.0.0.1'] }, aauth.EgressPolicy.dev(), new aauth.EgressPolicy({ allowHttp: true, allowLoopback: true })]) {
    const doc = await new aauth.KeySetCache({ egress }).get(url, { now: T0 });
    assert.equal(doc.keys[0].kid, 'key-1');
  }
  assert.equal(peer.hits, 4);

  const dev = aauth.EgressPolicy.dev();
  assert.doesNotThrow(() => dev.checkUrl('http://[::1]:8001/jwks'));
  assert.doesNotThrow(() => dev.checkUrl('http://localhost:8001/jwks'));
  assert.throws(() => dev.checkUrl('http://10.0.0.1/jwks'), { code: 'invalid_signature' });
  assert.throws(() => dev.checkUrl('http://169.254.169.254/'), { code: 'invalid_signature' });
  assert.doesNotThrow(() => new aauth.EgressPolicy({ allowPrivate: true }).checkUrl('https://10.0.0.1/jwks'));
  assert.throws(() => new aauth.EgressPolicy({ allowPrivate: true }).checkUrl('https://169.254.169.254/'), { code: 'invalid_signature' });

  const p = new aauth.EgressPolicy({ allowHosts: ['127.0.0.1:8001', '[::1]:9000', 'Internal.Example', 'h.example:443'] });
  assert.doesNotThrow(() => p.checkUrl('http://127.0.0.1:8001/x'));
  assert.throws(() => p.checkUrl('http://127.0.0.1:8002/x'));
  assert.doesNotThrow(() => p.checkUrl('http://[0:0:0:0:0:0:0:1]:9000/x'));
  assert.doesNotThrow(() => p.checkUrl('http://internal.example:1234/x'));
  assert.doesNotThrow(() => p.checkUrl('https://h.example/x'), 'the scheme default port counts');
  assert.throws(() => p.checkUrl('http://h.example/x'));
  assert.throws(() => p.checkUrl('http://other.example/x'));
  assert.throws(() => p.checkUrl('http://user:pw@127.0.0.1:8001/x'), { message: /credentials/ });
  for (const bad of ['http://127.0.0.1:8001', 'h:99999', 'h:x', '', 'a b', '[::1', 'u@h']) {
    assert.throws(() => new aauth.EgressPolicy({ allowHosts: [bad] }), TypeError, bad);
  }
  // permitsIp: for a fetch that checks the addresses a name resolves to.
  const strict = new aauth.EgressPolicy();
  assert.equal(strict.permitsIp('8.8.8.8'), true);
  for (const ip of ['127.0.0.1', '::ffff:10.0.0.1', '169.254.169.254', 'fe80::1', 'agent.example']) assert.equal(strict.permitsIp(ip), false, ip);
  assert.equal(dev.permitsIp('::1'), true);
  assert.equal(dev.permitsIp('10.0.0.1'), false);
  assert.equal(new aauth.EgressPolicy({ allowPrivate: true }).permitsIp('::ffff:10.0.0.1'), true);
  // A limit that is not a positive number is a configuration error, not "no limit".
  for (const bad of [{ maxBodyBytes: NaN }, { maxBodyBytes: '1024' }, { timeout: 0 }, { timeout: -1 }]) {
    assert.throws(() => new aauth.KeySetCache(bad), TypeError, JSON.stringify(bad));
  }
});

test('redirects are not followed (a redirect could lead past the policy)', async () => {
  const inside = await serve(jwksHandler);
  const outside = await serve((req, res) => {
    res.writeHead(302, { location: `${inside.url}/jwks.json` });
    res.end();
  });
  const keyCache = new aauth.KeySetCache({ egress: { allowHosts: [outside.host] } });
  await assert.rejects(keyCache.get(`${outside.url}/jwks.json`, { now: T0 }), { code: 'invalid_signature', message: /redirect/ });
  assert.equal(outside.hits, 1);
  assert.equal(inside.hits, 0);
});

test('only a 200 with a JSON content type (or none) is taken, as aauth-discovery', async () => {
  const answer = (status, contentType) => async () =>
    // Bytes, not a string: a string body would get a text/plain content type by default.
    new Response(new TextEncoder().encode('{"keys":[]}'), { status, headers: contentType ? { 'content-type': contentType } : {} });
  const get = (status, contentType, url) =>
    new aauth.KeySetCache().get(url, { fetch: answer(status, contentType), now: T0 });
  for (const ct of ['text/html', 'text/plain;charset=UTF-8', 'text/plain+json', 'application/xml']) {
    await assert.rejects(get(200, ct, `https://agent.example/${encodeURIComponent(ct)}`), { code: 'invalid_signature', message: /content type/ });
  }
  await assert.rejects(get(203, 'application/json', 'https://agent.example/203'), { code: 'invalid_signature', message: /HTTP 203/ });
  for (const ct of [null, 'application/json', 'Application/JSON; charset=utf-8', 'application/jwk-set+json']) {
    assert.deepEqual(await get(200, ct, `https://agent.example/ok-${ct}`), { keys: [] });
  }
});

test('a body over maxBodyBytes is refused: by Content-Length before reading, and while streaming', async () => {
  assert.equal(new aauth.KeySetCache().maxBodyBytes, 256 * 1024);
  // Declares 1 MB and sends a few bytes, then hangs: only the Content-Length check can refuse
  // it before the timeout.
  const declared = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1 << 20) });
    res.write('{"keys":');
  });
  const keyCache = new aauth.KeySetCache({ egress: { allowHosts: [declared.host] }, maxBodyBytes: 1024, timeout: 30 });
  const started = Date.now();
  await assert.rejects(keyCache.get(`${declared.url}/jwks.json`, { now: T0 }), { code: 'invalid_signature', message: /exceeds the 1024-byte limit/ });
  assert.ok(Date.now() - started < 10_000);

  // No Content-Length and an endless body: reading stops just past the limit.
  let pulled = 0;
  let cancelled = false;
  const endless = async () =>
    new Response(new ReadableStream({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(1024).fill(0x20));
      },
      cancel() {
        cancelled = true;
      },
    }), { headers: { 'content-type': 'application/json' } });
  const small = new aauth.KeySetCache({ maxBodyBytes: 4096 });
  await assert.rejects(small.get('https://big.example/jwks.json', { fetch: endless, now: T0 }), { code: 'invalid_signature', message: /exceeds the 4096-byte limit/ });
  assert.ok(pulled <= 8, `read ${pulled} KiB for a 4 KiB limit`);
  assert.ok(cancelled, 'the body stream is cancelled');

  // The 256 KiB default, over a real chunked response: just under is read, just over refused.
  const sized = await serve((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n'));
    res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no Content-Length
    const body = `{"keys":[],"pad":"${'x'.repeat(n - '{"keys":[],"pad":""}'.length)}"}`;
    for (let i = 0; i < body.length; i += 8192) res.write(body.slice(i, i + 8192));
    res.end();
  });
  const d = new aauth.KeySetCache({ egress: { allowHosts: [sized.host] } });
  assert.deepEqual((await d.get(`${sized.url}/?n=${256 * 1024}`, { now: T0 })).keys, []);
  await assert.rejects(d.get(`${sized.url}/?n=${256 * 1024 + 1}`, { now: T0 }), { message: /exceeds the 262144-byte limit/ });
});

test('a fetch that does not finish within timeout is aborted', async () => {
  assert.equal(new aauth.KeySetCache().timeout, 5);
  const silent = await serve(() => {}); // accepts, never answers
  const keyCache = new aauth.KeySetCache({ egress: { allowHosts: [silent.host] }, timeout: 0.2 });
  const started = Date.now();
  await assert.rejects(keyCache.get(`${silent.url}/jwks.json`, { now: T0 }), { code: 'invalid_signature', message: /timed out after 0.2 s/ });
  const took = Date.now() - started;
  assert.ok(took >= 150 && took < 3000, `took ${took} ms`);
  assert.equal(silent.hits, 1);
  // The timeout is remembered like any failure.
  await assert.rejects(keyCache.get(`${silent.url}/jwks.json`, { now: T0 + 1 }), { message: /timed out/ });
  assert.equal(silent.hits, 1);
  assert.equal(keyCache.stats.negativeHits, 1);
  // A fetch that ignores the abort signal and never settles times out all the same.
  const never = () => new Promise(() => {});
  await assert.rejects(new aauth.KeySetCache({ timeout: 0.1 }).get('https://slow.example/jwks.json', { fetch: never, now: T0 }), { message: /timed out after 0.1 s/ });
  await assert.rejects(aauth.fetchKeySet({ source: { jwks: 'https://slow.example/jwks.json' }, kid: null }, { fetch: never, timeout: 0.1 }), { message: /timed out/ });
});

test('refusals are rejected promises, never unhandled', async () => {
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(unhandled, []);
});

test('aauthFetch with egress refuses a challenge naming an internal auth server, and internal targets', async () => {
  const seen = [];
  const fetch = async (url) => {
    seen.push(String(url));
    const challenge = 'httpsig; auth-token; resource_token="a.b.c"; auth_server="http://169.254.169.254"';
    return new Response(null, { status: 401, headers: { 'agent-auth': challenge } });
  };
  const key = aauth.generateKey({ kid: 'k' });
  const guarded = aauth.createAAuthFetch({ key, fetch, egress: { allowHosts: ['resource.example:8080'] } });
  await assert.rejects(guarded('http://resource.example:8080/data'), {
    code: 'invalid_request',
    message: /egress policy refused http:\/\/169\.254\.169\.254/,
  });
  assert.deepEqual(seen, ['http://resource.example:8080/data'], 'the auth server was not contacted');
  await assert.rejects(guarded('https://10.0.0.1/data'), { code: 'invalid_request', message: /private address/ });
  assert.equal(seen.length, 1, 'nor the internal target');
  // Without a policy the client goes where the challenge sends it.
  const open = aauth.createAAuthFetch({ key, fetch });
  await assert.rejects(open('http://resource.example:8080/data'));
  assert.ok(seen.includes('http://169.254.169.254/.well-known/aauth-issuer'), seen.join(' '));
});
