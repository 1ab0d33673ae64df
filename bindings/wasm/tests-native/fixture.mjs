// Starts the aauth-e2e-servers fixture (built by build.sh) for the node tests and stops it.
// Kept out of test/ so `node --test bindings/wasm/test/` does not run it as a test file.
//
// The fixture stops on stdin EOF, so it also goes away when the test process dies; `stop()`
// closes stdin, waits up to 5 s, then kills it. The fixture's own TTL (AAUTH_E2E_TTL,
// default 300 s here) bounds it even if both fail.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const targetDir = process.env.CARGO_TARGET_DIR ?? new URL('../../../target', import.meta.url).pathname;
export const fixtureBin = `${targetDir}/debug/aauth-e2e-servers`;

/** `{urls, stop}`: `urls` has `agent`, `resource`, `issuer`, `resource2`, `issuer2`. */
export async function startFixture(agentSeed, { ttl = 300 } = {}) {
  if (!existsSync(fixtureBin)) throw new Error(`${fixtureBin} is missing: run bindings/wasm/build.sh`);
  const child = spawn(fixtureBin, [], {
    env: { ...process.env, AGENT_SEED: Buffer.from(agentSeed).toString('base64url'), AAUTH_E2E_TTL: String(ttl) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  try {
    const urls = await new Promise((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.once('line', (l) => {
        try {
          resolve(JSON.parse(l));
        } catch (e) {
          reject(e);
        }
      });
      exited.then((c) => reject(new Error(`aauth-e2e-servers exited (${c}) before printing its URLs`)));
      setTimeout(() => reject(new Error('aauth-e2e-servers did not start within 30 s')), 30000).unref();
    });
    return { urls, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
