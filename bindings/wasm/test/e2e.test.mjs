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
