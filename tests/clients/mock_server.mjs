// A loopback HTTP server on port 0 that records every request it gets and hands it to a
// per-test handler. The provider mocks (mock_openai.mjs, mock_anthropic.mjs) build on it.

import http from 'node:http';
import https from 'node:https';

// Starts the server; `handler(req, res, recorded)` answers, `recorded` is what was kept of the
// request: {method, path, headers (lower-case names), rawBody, body (parsed JSON or null)}.
// With `tls` ({key, cert}, PEM) it speaks HTTPS as the host `localhost`, as real providers do.
export async function startMockServer(handler, { tls } = {}) {
  const requests = [];
  const sockets = new Set();
  const onRequest = (req, res) => {
    const parts = [];
    req.on('data', (part) => parts.push(part));
    req.on('end', () => {
      const rawBody = Buffer.concat(parts).toString('utf8');
      let body = null;
      try {
        body = rawBody ? JSON.parse(rawBody) : null;
      } catch {
        body = null;  // kept as rawBody; a test that cares asserts on it
      }
      const recorded = { method: req.method, path: req.url, headers: req.headers, rawBody, body };
      requests.push(recorded);
      Promise.resolve(handler(req, res, recorded)).catch((err) => {
        // A bug in the mock must show up as a failed request, not as a hung test.
        if (!res.headersSent) {
          res.writeHead(599, { 'content-type': 'text/plain' });
        }
        res.end(`mock handler failed: ${err.stack}`);
      });
    });
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  server.on(tls ? 'secureConnection' : 'connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    requests,
    // keygate pools upstream connections: close them so the test process can exit.
    async close() {
      for (const s of sockets) {
        s.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

// Writes SSE frames one at a time with a short pause between them, so keygate sees the stream
// arrive in pieces as it does from a real provider, not as one buffer.
export async function sendSse(res, frames, pauseMs = 5) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  for (const frame of frames) {
    res.write(frame);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  res.end();
}
