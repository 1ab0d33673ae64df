// verifyRequest's verified-token cache (TokenCache, the core's TokenStore in wasm): a
// `scheme=jwt` token seen again needs no key and no token signature check, while the request
// signature, the token's expiry and audience are checked on every request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import * as aauth from '../pkg/index.js';

const T0 = 1_768_785_919;
const RESOURCE = 'https://resource.example';
const AS = 'https://auth.example';
const issuer = aauth.generateKey({ seed: new Uint8Array(32).fill(5), kid: 'auth-key-1' });
const agent = aauth.generateKey({ seed: new Uint8Array(32).fill(6), kid: 'key-1' });
const stranger = aauth.generateKey({ seed: new Uint8Array(32).fill(7), kid: 'key-1' });

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** An auth+jwt from AS for `aud`, bound to the agent's key, expiring at `exp`, scope tagged `n`. */
function authToken(n, exp, aud = RESOURCE) {
  const head = b64({ alg: 'EdDSA', typ: 'auth+jwt', kid: issuer.kid });
  const body = b64({ iss: AS, aud, agent: 'https://agent.example', cnf: { jwk: aauth.publicJwk(agent) }, scope: `data.read n${n}`, exp });
  const sig = sign(null, Buffer.from(`${head}.${body}`), createPrivateKey({ key: issuer, format: 'jwk' }));
  return `${head}.${body}.${sig.toString('base64url')}`;
}

/** A request carrying `jwt`, signed at `now` with `key`. */
function signed(jwt, now, { key = agent, method = 'GET', path = '/data', headers = {} } = {}) {
  const req = { method, url: `${RESOURCE}${path}`, headers, body: method === 'GET' ? undefined : 'hi' };
  if (req.body) req.headers = { ...headers, 'content-type': 'text/plain' };
  return { ...req, headers: { ...req.headers, ...aauth.signRequest(req, { key, scheme: 'jwt', jwt, now }) } };
}

/** Verify options with a key resolver that counts its calls in `lookups.n`. */
function options(tokenCache, now, lookups, extra = {}) {
  return {
    audience: RESOURCE, trustedIssuers: [AS], now, tokenCache,
    resolveKey: async (kr) => {
      lookups.n++;
      assert.equal(kr.source.metadata.url, `${AS}/.well-known/aauth-issuer`);
      return { keys: [aauth.publicJwk(issuer)] };
    },
    ...extra,
  };
}

test('a token seen again skips key resolution and the token check', async () => {
  const tokenCache = new aauth.TokenCache(8);
  const lookups = { n: 0 };
  const t = authToken(0, T0 + 600);
  for (let i = 0; i < 5; i++) {
    const v = await aauth.verifyRequest(signed(t, T0 + i), options(tokenCache, T0 + i, lookups));
    assert.equal(v.scheme, 'jwt');
    assert.equal(v.agent, 'https://agent.example');
    assert.equal(v.claims.scope, 'data.read n0');
    assert.equal(v.thumbprint, aauth.thumbprint(agent));
  }
  assert.equal(lookups.n, 1);
  assert.equal(tokenCache.size, 1);
  // Without a token cache every verification resolves the issuer key.
  await aauth.verifyRequest(signed(t, T0), options(undefined, T0, lookups));
  assert.equal(lookups.n, 2);
});

test('a cached token with a bad request signature is refused', async () => {
  const tokenCache = new aauth.TokenCache(8);
  const lookups = { n: 0 };
  const t = authToken(0, T0 + 600);
  await aauth.verifyRequest(signed(t, T0), options(tokenCache, T0, lookups));
  // The same (remembered) token, the request signed by a key other than its cnf.jwk.
  await assert.rejects(aauth.verifyRequest(signed(t, T0, { key: stranger }), options(tokenCache, T0, lookups)), { code: 'invalid_signature' });
  // The same token, a request altered after signing.
  const r = signed(t, T0);
  await assert.rejects(aauth.verifyRequest({ ...r, url: `${RESOURCE}/other` }, options(tokenCache, T0, lookups)), { code: 'invalid_signature' });
  // Another resource: the remembered token's audience is checked on the hit.
  await assert.rejects(aauth.verifyRequest(signed(t, T0), { ...options(tokenCache, T0, lookups), audience: 'https://other.example' }), { code: 'invalid_auth_token' });
  assert.equal(lookups.n, 1, 'all refused from the cache, without a key lookup');
  await aauth.verifyRequest(signed(t, T0 + 1), options(tokenCache, T0 + 1, lookups));
});

test('an expired token is not served from the cache', async () => {
  const tokenCache = new aauth.TokenCache(8);
  const lookups = { n: 0 };
  const t = authToken(0, T0 + 60);
  await aauth.verifyRequest(signed(t, T0), options(tokenCache, T0, lookups));
  await aauth.verifyRequest(signed(t, T0 + 59), options(tokenCache, T0 + 59, lookups));
  assert.equal(lookups.n, 1);
  await assert.rejects(aauth.verifyRequest(signed(t, T0 + 60), options(tokenCache, T0 + 60, lookups)), { code: 'invalid_auth_token', message: /expired/ });
  assert.equal(tokenCache.size, 0, 'the expired entry is dropped');
});

test('the token cache holds at most `capacity` tokens, oldest out first', async () => {
  const tokenCache = new aauth.TokenCache(3);
  const lookups = { n: 0 };
  const tokens = Array.from({ length: 5 }, (_, n) => authToken(n, T0 + 600));
  for (const t of tokens) {
    await aauth.verifyRequest(signed(t, T0), options(tokenCache, T0, lookups));
    assert.ok(tokenCache.size <= 3);
  }
  assert.equal(tokenCache.size, 3);
  assert.equal(lookups.n, 5);
  await aauth.verifyRequest(signed(tokens[4], T0), options(tokenCache, T0, lookups));
  assert.equal(lookups.n, 5, 'the newest is remembered');
  await aauth.verifyRequest(signed(tokens[0], T0), options(tokenCache, T0, lookups));
  assert.equal(lookups.n, 6, 'the oldest was evicted');
  assert.equal(new aauth.TokenCache().size, 0);
});

test('a replayed Nonce is refused on a token-cache hit too', async () => {
  const tokenCache = new aauth.TokenCache(8);
  const replayCache = new aauth.ReplayCache(8);
  const lookups = { n: 0 };
  const t = authToken(0, T0 + 600);
  const post = (nonce) => signed(t, T0, { method: 'POST', headers: { nonce } });
  await aauth.verifyRequest(post('Y3VyaW91c2x5Y3VyaW91cw'), options(tokenCache, T0, lookups, { replayCache }));
  const again = post('Y3VyaW91c2x5Y3VyaW91dw');
  await aauth.verifyRequest(again, options(tokenCache, T0, lookups, { replayCache }));
  assert.equal(lookups.n, 1, 'the second request was a hit');
  await assert.rejects(aauth.verifyRequest(again, options(tokenCache, T0, lookups, { replayCache })), { code: 'invalid_signature', message: /replayed/ });
  assert.equal(replayCache.size, 2);
});

test('token cache and key-set cache together: the warm path fetches nothing', async () => {
  let fetches = 0;
  const fetch = async (url) => {
    fetches++;
    if (url.endsWith('/.well-known/aauth-issuer')) return Response.json({ issuer: AS, jwks_uri: `${AS}/jwks.json` });
    return Response.json({ keys: [aauth.publicJwk(issuer)] });
  };
  const tokenCache = new aauth.TokenCache();
  const keyCache = new aauth.KeySetCache();
  const t = authToken(0, T0 + 600);
  for (let i = 0; i < 5; i++) {
    const o = { audience: RESOURCE, trustedIssuers: [AS], now: T0 + i, fetch, keyCache, tokenCache };
    assert.equal((await aauth.verifyRequest(signed(t, T0 + i), o)).claims.scope, 'data.read n0');
  }
  assert.equal(fetches, 2);
  assert.equal(keyCache.stats.hits, 0, 'hits never asked for the key at all');
});
