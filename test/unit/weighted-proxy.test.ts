import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WeightedProxy } from '../../shared/local/weighted-proxy.ts';

async function startService(body: string): Promise<{ url: string; close: () => Promise<void> }> {
  const srv = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

test('over 100 requests the split matches the weights exactly', () => {
  const proxy = new WeightedProxy();
  for (const [blue, green] of [[90, 10], [50, 50], [0, 100], [100, 0], [33, 67]]) {
    proxy.setBackends({ blue: { url: 'http://b', weight: blue }, green: { url: 'http://g', weight: green } });
    const counts = { blue: 0, green: 0 };
    for (let i = 0; i < 100; i++) counts[proxy.pick()] += 1;
    assert.deepEqual(counts, { blue, green }, `weights ${blue}/${green}`);
  }
});

test('weights that do not add up to 100 are refused and the old ones stay', () => {
  const proxy = new WeightedProxy();
  assert.throws(() => proxy.setBackends({ blue: { url: 'http://b', weight: 60 }, green: { url: 'http://g', weight: 60 } }), /add up to 100/);
  assert.equal(proxy.getBackends().blue.weight, 100);
});

test('traffic is never sent to a colour that runs nothing', () => {
  const proxy = new WeightedProxy();
  assert.throws(() => proxy.setBackends({ blue: { url: 'http://b', weight: 90 }, green: { weight: 10 } }), /green: it runs nothing/);
});

test('requests reach the colour the weights pick, over real HTTP', async () => {
  const blue = await startService('v1');
  const green = await startService('v2');
  const proxy = new WeightedProxy();
  const url = await proxy.listen();
  try {
    proxy.setBackends({ blue: { url: blue.url, weight: 100 }, green: { url: green.url, weight: 0 } });
    assert.equal(await (await fetch(url)).text(), 'v1');
    proxy.setBackends({ blue: { url: blue.url, weight: 0 }, green: { url: green.url, weight: 100 } });
    const res = await fetch(url);
    assert.equal(res.headers.get('x-slipway-color'), 'green');
    assert.equal(await res.text(), 'v2');
    assert.deepEqual(proxy.served, { blue: 1, green: 1 });
  } finally {
    await proxy.close();
    await blue.close();
    await green.close();
  }
});
