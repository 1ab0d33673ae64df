// Rough throughput of the wasm build in Node: `node bindings/wasm/bench/bench.mjs`.
import * as aauth from '../pkg/index.js';

const key = aauth.generateKey({ kid: 'key-1' });
const req = { method: 'POST', url: 'https://resource.example/items?x=1', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' };
const now = 1_768_785_919;
const added = aauth.signRequest(req, { key, scheme: 'hwk', now });
const signed = { ...req, headers: { ...req.headers, ...added } };

function bench(name, f, n = 2000) {
  for (let i = 0; i < 200; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${name.padEnd(28)} ${us.toFixed(1).padStart(8)} µs/op`);
}

bench('signRequest (hwk, body)', () => aauth.signRequest(req, { key, scheme: 'hwk', now }));
bench('verifyKeyRequest+verify hwk', () => {
  aauth.verifyKeyRequest(signed, { audience: 'https://resource.example', now });
});
let done = 0;
const t0 = performance.now();
for (let i = 0; i < 2000; i++) {
  await aauth.verifyRequest(signed, { audience: 'https://resource.example', now });
  done++;
}
console.log(`${'verifyRequest (hwk, body)'.padEnd(28)} ${(((performance.now() - t0) * 1000) / done).toFixed(1).padStart(8)} µs/op`);
bench('parseAgentAuth', () => aauth.parseAgentAuth('httpsig; auth-token; resource_token="eyJ.x.y"; auth_server="https://auth.example"'), 20000);
bench('thumbprint', () => aauth.thumbprint(key), 20000);
