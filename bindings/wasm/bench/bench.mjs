// Throughput of the wasm build in Node: `node bindings/wasm/bench/bench.mjs` (after build.sh).
// The native counterpart runs the same JSON-boundary calls:
// `cargo test --release -p aauth-wasm -- --ignored --nocapture bench_native`.
// Each case runs ROUNDS rounds and reports the best one (the least disturbed by other load).
import * as aauth from '../pkg/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const key = aauth.generateKey({ seed: new Uint8Array(32).fill(3), kid: 'key-1' });
const req = { method: 'POST', url: 'https://resource.example/items?x=1', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' };
const now = 1_768_785_919;
const added = aauth.signRequest(req, { key, scheme: 'hwk', now });
const signed = { ...req, headers: { ...req.headers, ...added } };
const verifyOpts = { audience: 'https://resource.example', now };

function report(name, us) {
  console.log(`${name.padEnd(28)} ${us.toFixed(1).padStart(8)} us/op ${Math.round(1e6 / us).toString().padStart(9)} ops/s`);
}

async function bench(name, f, n) {
  for (let i = 0; i < Math.min(200, n); i++) await f();
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await f();
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  report(name, best);
}

await bench('signRequest (hwk, body)', () => aauth.signRequest(req, { key, scheme: 'hwk', now }), 1000);
await bench('verifyRequest (hwk, body)', () => aauth.verifyRequest(signed, verifyOpts), 1000);
await bench('parseAgentAuth', () => aauth.parseAgentAuth('httpsig; auth-token; resource_token="eyJ.x.y"; auth_server="https://auth.example"'), 10000);
await bench('thumbprint', () => aauth.thumbprint(key), 10000);

// The warm path of a JS resource: the same `scheme=jwt` auth token on every request (a new
// request signature each time is not needed: the verifier checks it on every call anyway).
// Keys come from a loopback HTTP server (metadata + JWKS), as a resource would fetch them.
import { createServer } from 'node:http';
import { createPrivateKey, sign } from 'node:crypto';

const issuerKey = aauth.generateKey({ seed: new Uint8Array(32).fill(5), kid: 'auth-key-1' });
const server = createServer((rq, rs) => {
  const origin = `http://${rq.headers.host}`;
  rs.setHeader('content-type', 'application/json');
  rs.setHeader('cache-control', 'max-age=300');
  rs.end(JSON.stringify(rq.url.startsWith('/.well-known/') ? { issuer: origin, jwks_uri: `${origin}/jwks.json` } : { keys: [aauth.publicJwk(issuerKey)] }));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const AS = `http://127.0.0.1:${server.address().port}`;
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const head = b64({ alg: 'EdDSA', typ: 'auth+jwt', kid: 'auth-key-1' });
const claims = b64({ iss: AS, aud: 'https://resource.example', agent: 'https://agent.example', cnf: { jwk: aauth.publicJwk(key) }, scope: 'data.read', exp: now + 3600 });
const jwt = `${head}.${claims}.${sign(null, Buffer.from(`${head}.${claims}`), createPrivateKey({ key: issuerKey, format: 'jwk' })).toString('base64url')}`;
const jreq = { method: 'GET', url: 'https://resource.example/data' };
const jsigned = { ...jreq, headers: aauth.signRequest(jreq, { key, scheme: 'jwt', jwt, now }) };
const jopts = { audience: 'https://resource.example', trustedIssuers: [AS], now };
// The issuer is on loopback http: admitted by name, as a deployment would admit its own.
const egress = { allowHosts: [new URL(AS).host] };
const keyCache = new aauth.KeySetCache({ egress });
const tokenCache = new aauth.TokenCache();
const eachTime = (kr) => aauth.fetchKeySet(kr, { egress });

await bench('verify jwt, fetch each time', () => aauth.verifyRequest(jsigned, { ...jopts, resolveKey: eachTime }), 200);
await bench('verify jwt, keyCache', () => aauth.verifyRequest(jsigned, { ...jopts, keyCache }), 1000);
await bench('verify jwt, key+tokenCache', () => aauth.verifyRequest(jsigned, { ...jopts, keyCache, tokenCache }), 1000);
console.log(`keyCache ${JSON.stringify(keyCache.stats)}, tokenCache size ${tokenCache.size}`);
server.close();
