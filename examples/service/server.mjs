// A tiny HTTP service to release with Slipway. It answers its version on every
// path and reports health on /health. The version comes from VERSION (the file),
// so a new commit that edits it is a new release you can watch shift.
import http from 'node:http';
import { readFileSync } from 'node:fs';

const version = readFileSync(new URL('./VERSION', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 8080);
// A release whose health check must fail (to see an automatic rollback): put "unhealthy" in VERSION.
const healthy = !version.includes('unhealthy');

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ healthy, version }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ service: 'hello', version }) + '\n');
});
// 0.0.0.0 in a container (ALB health checks reach the task); the local mode sets HOST=127.0.0.1.
server.listen(port, process.env.HOST ?? '0.0.0.0', () => console.log(`hello ${version} listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
