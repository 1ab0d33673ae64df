// The JS API surface: keys, challenges, tokens, errors with codes, package size budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as aauth from '../pkg/index.js';

test('generateKey / publicJwk / exportJwk / thumbprint', () => {
  const k = aauth.generateKey({ kid: 'k1' });
  assert.equal(k.kty, 'OKP');
  assert.equal(k.crv, 'Ed25519');
  assert.equal(k.kid, 'k1');
  assert.equal(typeof k.d, 'string');
  const pub = aauth.publicJwk(k);
  assert.equal(pub.d, undefined);
  assert.deepEqual(aauth.exportJwk(k), pub);
  assert.equal(aauth.exportJwk(k, { private: true }).d, k.d);
  assert.match(aauth.thumbprint(pub), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(aauth.thumbprint(pub), aauth.thumbprint(JSON.stringify(k)));
  assert.notEqual(aauth.generateKey().x, aauth.generateKey().x);
});

test('a fixed seed gives a fixed key', () => {
  const seed = new Uint8Array(32).fill(7);
  assert.equal(aauth.generateKey({ seed: seed.slice() }).x, aauth.generateKey({ seed: seed.slice() }).x);
});

test('errors are Error objects with a stable code', () => {
  const cases = [
    [() => aauth.parseAgentAuth('bearer'), 'invalid_request'],
    [() => aauth.publicJwk({ kty: 'nope' }), null],
    [() => aauth.generateKey({ seed: new Uint8Array(3) }), 'invalid_request'],
    [() => aauth.signRequest({ url: 'https://r.example/x' }, { key: aauth.generateKey(), scheme: 'x509' }), 'unsupported_scheme'],
    [() => aauth.signRequest({ method: 'POST', url: 'https://r.example/x', body: 'x' }, { key: aauth.generateKey(), scheme: 'hwk' }), 'invalid_request'],
    [() => aauth.decodeToken('a.b'), null],
  ];
  for (const [f, code] of cases) {
    assert.throws(f, (e) => e instanceof Error && typeof e.code === 'string' && (code === null || e.code === code));
  }
});

test('sign with hwk, verify, and tamper', async () => {
  const key = aauth.generateKey();
  const req = { method: 'POST', url: 'http://127.0.0.1:9/x?y=1', headers: { 'content-type': 'application/json' }, body: '{"a":1}' };
  const added = aauth.signRequest(req, { key, scheme: 'hwk', now: 1000 });
  assert.ok(added['Content-Digest'].startsWith('sha-256=:'));
  const signed = { ...req, headers: { ...req.headers, ...added } };
  const v = await aauth.verifyRequest(signed, { audience: 'http://127.0.0.1:9', now: 1001 });
  assert.equal(v.scheme, 'hwk');
  assert.equal(v.thumbprint, aauth.thumbprint(key));
  await assert.rejects(aauth.verifyRequest({ ...signed, body: '{"a":2}' }, { audience: 'x', now: 1001 }), { code: 'invalid_signature' });
  await assert.rejects(aauth.verifyRequest(signed, { audience: 'x', now: 5000 }), { code: 'invalid_signature' });
  await assert.rejects(aauth.verifyRequest(req, { audience: 'x', now: 1001 }), { code: 'invalid_signature' });
});

test('a ReplayCache refuses a replayed Nonce on POST, only when given (digest L§10.5)', async () => {
  const key = aauth.generateKey();
  const req = {
    method: 'POST', url: 'http://127.0.0.1:9/x',
    headers: { 'content-type': 'text/plain', nonce: 'Y3VyaW91c2x5Y3VyaW91cw' }, body: 'hi',
  };
  const signed = { ...req, headers: { ...req.headers, ...aauth.signRequest(req, { key, scheme: 'hwk', now: 1000 }) } };
  const opts = { audience: 'http://127.0.0.1:9', now: 1001 };
  const replayCache = new aauth.ReplayCache(8);
  await aauth.verifyRequest(signed, { ...opts, replayCache });
  assert.equal(replayCache.size, 1);
  await assert.rejects(aauth.verifyRequest(signed, { ...opts, replayCache }), { code: 'invalid_signature', message: /replayed/ });
  // Another cache (another resource) has not seen it; no cache means no check.
  await aauth.verifyRequest(signed, { ...opts, replayCache: new aauth.ReplayCache() });
  await aauth.verifyRequest(signed, opts);
  // A malformed Nonce is refused once a cache checks it.
  const shortReq = { ...req, headers: { ...req.headers, nonce: 'short' } };
  const short = { ...shortReq, headers: { ...shortReq.headers, ...aauth.signRequest(shortReq, { key, scheme: 'hwk', now: 1000 }) } };
  await assert.rejects(aauth.verifyRequest(short, { ...opts, replayCache }), { code: 'invalid_request' });
});

test('Agent-Auth challenges round-trip', () => {
  const v = aauth.buildAgentAuth({ authToken: true, resourceToken: 'eyJ.x.y', authServer: 'https://auth.example' });
  assert.equal(v, 'httpsig; auth-token; resource_token="eyJ.x.y"; auth_server="https://auth.example"');
  const c = aauth.parseAgentAuth(v);
  assert.equal(c.resourceToken, 'eyJ.x.y');
  assert.equal(c.authServer, 'https://auth.example');
  assert.equal(aauth.parseAgentAuth('httpsig; identity=?1').identity, true);
});

test('buildTokenRequest', () => {
  const r = aauth.buildTokenRequest({ tokenEndpoint: 'https://a.example/agent/token', requestType: 'auth', resourceToken: 'rt', redirectUri: 'https://ag.example/cb' });
  assert.equal(r.method, 'POST');
  assert.equal(r.body, 'request_type=auth&resource_token=rt&redirect_uri=https%3A%2F%2Fag.example%2Fcb');
});

test('verifyToken on the shared vectors', () => {
  const dir = new URL('../../../../shared/interop/python-ref/', import.meta.url);
  const suite = JSON.parse(readFileSync(new URL('vectors.json', dir), 'utf8')).suites['aauth-0.1.0'];
  const c = suite.cases.find((x) => x.id === 'sig-get-jwt-auth-token');
  const jwt = c.input.scheme_params.jwt;
  const claims = aauth.verifyToken(jwt, suite.offline_jwks['http://127.0.0.1:8003'], { type: 'auth', issuer: 'http://127.0.0.1:8003', audience: 'http://127.0.0.1:8002', now: c.verify.at });
  assert.equal(claims.agent, 'http://127.0.0.1:8001');
  assert.throws(() => aauth.verifyToken(jwt, suite.offline_jwks['http://127.0.0.1:8003'], { type: 'agent', now: c.verify.at }), { code: 'invalid_agent_token' });
  assert.throws(() => aauth.verifyToken(jwt, suite.offline_jwks['http://127.0.0.1:8003'], { type: 'auth', now: 4_000_000_000 }), { code: 'invalid_auth_token' });
});

// Budget, stated in README.md: wasm <= 400 KiB raw, <= 160 KiB gzip.
test('package size is within the budget', () => {
  const wasm = readFileSync(new URL('../pkg/aauth_wasm_bg.wasm', import.meta.url));
  const gz = gzipSync(wasm, { level: 9 }).length;
  console.log(`aauth_wasm_bg.wasm: ${wasm.length} B raw, ${gz} B gzip; index.js ${statSync(new URL('../pkg/index.js', import.meta.url)).size} B`);
  assert.ok(wasm.length <= 400 * 1024, `raw ${wasm.length}`);
  assert.ok(gz <= 160 * 1024, `gzip ${gz}`);
});

test('garbage in: every function throws an Error with a code, never traps', async () => {
  const junk = ['', 'x', '{}', '[]', 'null', '{"kty":"OKP"}', 'sig1=(', 'httpsig; algs=(', 'a.b.c', '\u0000\uffff', '{"keys":[{}]}', 'e'.repeat(20000)];
  const key = aauth.generateKey();
  const fns = [
    (j) => aauth.publicJwk(j),
    (j) => aauth.thumbprint(j),
    (j) => aauth.parseAgentAuth(j),
    (j) => aauth.decodeToken(j),
    (j) => aauth.verifyToken(j, j, { type: 'auth' }),
    (j) => aauth.verifyToken(j, '{"keys":[]}', { type: 'agent' }),
    (j) => aauth.signRequest({ url: 'https://r.example/', headers: { 'signature-key': j } }, { key, scheme: 'jwt', jwt: j }),
    (j) => aauth.signRequest({ url: 'https://r.example/' }, { key: j, scheme: 'hwk' }),
    (j) => aauth.verifyKeyRequest({ url: 'https://r.example/', headers: { 'signature-input': j, signature: j, 'signature-key': j } }, { audience: j }),
    (j) => aauth.buildAgentAuth({ resourceToken: j, authServer: j }),
  ];
  let threw = 0;
  for (const f of fns) {
    for (const j of junk) {
      try {
        f(j);
      } catch (e) {
        threw++;
        assert.ok(e instanceof Error, String(e));
        assert.equal(typeof e.code, 'string', `${e}`);
        assert.notEqual(e.code, 'server_error', `a wasm trap or internal error: ${e.message}`);
      }
    }
  }
  assert.ok(threw > 50);
  // The module still works afterwards.
  assert.equal(aauth.parseAgentAuth('httpsig').authToken, false);
});
