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
