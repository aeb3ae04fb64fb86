/**
 * A loopback HTTP proxy for fault injection: forwards every request to one
 * upstream with the Host header the client signed (so presigned S3 URLs stay
 * valid), counts the requests, and lets a test fail chosen ones (an answer it
 * makes up, or a dropped connection) without forwarding them.
 */
import { createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What to do with one request: forward it, answer with a status, or drop the connection. */
export type Fault = undefined | { status: number } | 'drop'

/** A running proxy. */
export interface FaultProxy {
  /** Rewrites an upstream URL to go through the proxy. */
  via(url: string): string
  /** Every request seen, as `METHOD path?query`, in arrival order. */
  requests: string[]
  /** Decides the fate of each request; default forwards all. */
  fault: (req: IncomingMessage) => Fault
  close(): Promise<void>
}

/**
 * Starts a proxy on 127.0.0.1 in front of `upstream` (`http://host:port`).
 * @returns the proxy; close it when done.
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream)
  const proxy: FaultProxy = { via: () => '', requests: [], fault: () => undefined, close: async () => {} }
  const server = createServer((req, res) => {
    proxy.requests.push(`${req.method} ${req.url}`)
    const fault = proxy.fault(req)
    if (fault === 'drop') {
      req.socket.destroy()
      return
    }
    if (fault) {
      req.resume()
      res.writeHead(fault.status, { connection: 'close' }).end()
      return
    }
    const out = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        // Browsers need CORS headers the upstream would send to them: pass everything on.
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  proxy.via = (url) => {
    const u = new URL(url)
    u.host = `127.0.0.1:${port}`
    return u.href
  }
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return proxy
}
