/**
 * A fault-injecting TCP proxy for HTTP/1.1, between a client (S3Storage) and
 * a real server (the S3 gateway). It forwards bytes untouched, but follows
 * request boundaries (request line, headers, Content-Length) so that rules
 * can hit one particular request on a keep-alive connection:
 *
 * - `reset`: forward `after` bytes of the request body (or response), then
 *   send TCP RST on both sides;
 * - `status`: answer the request itself with an S3-style error (500
 *   InternalError, 503 SlowDown) and close, never telling the server;
 * - `stall`: stop forwarding after `after` bytes and hold the connection
 *   open until the client gives up;
 * - `truncate`: forward `after` bytes of the response, then close cleanly (FIN).
 *
 * It listens on 127.0.0.1 and only ever connects to 127.0.0.1: a test
 * helper must never become a way to reach other hosts.
 */
import net from 'node:net'

/** What happens to a matched request. */
export type Fault =
  { kind: 'reset'; after: number } | { kind: 'status'; status: 500 | 503 } | { kind: 'stall'; after: number } | { kind: 'truncate'; after: number }

/** Which requests a fault hits, in which direction, and how many times. */
export interface FaultRule {
  /** HTTP method, e.g. `PUT`. Any when absent. */
  method?: string
  /** Tested against the request target (path and query), e.g. `/partNumber=2/`. Any when absent. */
  target?: RegExp
  /** `request`: the fault hits the upload (after `after` body bytes); `response`: the download. */
  direction: 'request' | 'response'
  fault: Fault
  /** How many matching requests get the fault. Default 1; `Infinity` for every one. */
  times?: number
}

/** One request the proxy saw, and the fault it got, if any. */
export interface SeenRequest {
  method: string
  target: string
  fault?: Fault['kind']
}

interface LiveRule extends FaultRule {
  left: number
}

const ERRORS: Record<number, [string, string]> = {
  500: ['InternalError', 'We encountered an internal error. Please try again.'],
  503: ['SlowDown', 'Please reduce your request rate.'],
}

function errorResponse(status: 500 | 503): Buffer {
  const [code, message] = ERRORS[status]!
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`
  const reason = status === 503 ? 'Slow Down' : 'Internal Server Error'
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/** The proxy. Start with `FaultProxy.start(upstreamEndpoint)`, point the client at `endpoint`. */
export class FaultProxy {
  /** Every request seen, in order. */
  readonly seen: SeenRequest[] = []
  private rules: LiveRule[] = []
  private readonly sockets = new Set<net.Socket>()

  private constructor(
    private readonly server: net.Server,
    private readonly upstreamPort: number,
    /** `http://127.0.0.1:PORT`, to use as the S3 endpoint. */
    readonly endpoint: string,
  ) {}

  /**
   * Starts a proxy in front of `upstream` (an `http://127.0.0.1:PORT` or `http://localhost:PORT` URL).
   * @throws Error for any other host: the proxy never connects beyond this machine's loopback.
   */
  static async start(upstream: string): Promise<FaultProxy> {
    const url = new URL(upstream)
    if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(url.hostname) || !url.port) {
      throw new Error(`FaultProxy only proxies to http://127.0.0.1:PORT, not ${upstream}`)
    }
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const { port } = server.address() as net.AddressInfo
    const proxy = new FaultProxy(server, Number(url.port), `http://127.0.0.1:${port}`)
    server.on('connection', (client) => proxy.handle(client))
    return proxy
  }

  /** Adds a rule; rules are tried in the order added, and a spent rule no longer matches. */
  add(rule: FaultRule): this {
    this.rules.push({ ...rule, left: rule.times ?? 1 })
    return this
  }

  /** Removes all rules and forgets the requests seen. */
  reset(): void {
    this.rules = []
    this.seen.length = 0
  }

  /** Requests seen that match `method` and `target`. */
  count(method: string, target?: RegExp): number {
    return this.seen.filter((r) => r.method === method && (!target || target.test(r.target))).length
  }

  /** Stops listening and cuts every open connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private take(method: string, target: string, direction: FaultRule['direction']): Fault | undefined {
    const rule = this.rules.find((r) => r.left > 0 && r.direction === direction && (!r.method || r.method === method) && (!r.target || r.target.test(target)))
    if (!rule) return undefined
    rule.left--
    return rule.fault
  }

  private handle(client: net.Socket): void {
    const upstream = net.connect({ host: '127.0.0.1', port: this.upstreamPort })
    for (const s of [client, upstream]) {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
      s.on('error', () => undefined) // resets are the point; the other side learns by 'close'
    }
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => {
      if (!client.destroyed && !holding) client.end()
    })

    let dead = false
    let holding = false // a stall: keep the client waiting, forward nothing
    const kill = () => {
      dead = true
      client.resetAndDestroy()
      upstream.resetAndDestroy()
    }

    // ---- client → server: follow request boundaries -----------------------
    let head = Buffer.alloc(0)
    let bodyLeft = 0
    let inBody = false
    let requestFault: Fault | undefined
    let requestSent = 0
    let responseFault: Fault | undefined
    let responseSent = 0

    const forwardBody = (chunk: Buffer): Buffer => {
      const n = Math.min(bodyLeft, chunk.length)
      let part = chunk.subarray(0, n)
      if (requestFault && requestFault.kind !== 'status') {
        const room = requestFault.after - requestSent
        if (part.length >= room) {
          upstream.write(part.subarray(0, Math.max(0, room)))
          if (requestFault.kind === 'reset') kill()
          else holding = true
          return Buffer.alloc(0)
        }
      }
      requestSent += part.length
      upstream.write(part)
      bodyLeft -= n
      if (bodyLeft === 0) inBody = false
      part = chunk.subarray(n)
      return part
    }

    client.on('data', (data: Buffer) => {
      let chunk = data
      while (chunk.length > 0 && !dead && !holding) {
        if (inBody) {
          chunk = forwardBody(chunk)
          continue
        }
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        const headText = head.subarray(0, end).toString('latin1')
        chunk = head.subarray(end + 4)
        const headBytes = head.subarray(0, end + 4)
        head = Buffer.alloc(0)
        const [method = '', target = ''] = headText.split('\r\n', 1)[0]!.split(' ')
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(headText)
        bodyLeft = length ? Number(length[1]) : 0
        if (/\r\ntransfer-encoding:\s*chunked/i.test(headText)) bodyLeft = Number.POSITIVE_INFINITY // not followed: the rest is body
        inBody = bodyLeft > 0
        requestFault = this.take(method, target, 'request')
        responseFault = requestFault ? undefined : this.take(method, target, 'response')
        requestSent = 0
        responseSent = 0
        this.seen.push({ method, target, ...((requestFault ?? responseFault) && { fault: (requestFault ?? responseFault)!.kind }) })
        if (requestFault?.kind === 'status') {
          // Answer for the server and close; whatever else the client sends is dropped.
          dead = true
          client.end(errorResponse(requestFault.status))
          upstream.destroy()
          return
        }
        upstream.write(headBytes)
        if (requestFault && !inBody && requestFault.after <= 0) {
          if (requestFault.kind === 'reset') kill()
          else holding = true
        }
      }
    })

    // ---- server → client: faults on the response ---------------------------
    upstream.on('data', (data: Buffer) => {
      if (dead || holding) return
      if (!responseFault || responseFault.kind === 'status') {
        client.write(data)
        return
      }
      const room = responseFault.after - responseSent
      if (data.length < room) {
        responseSent += data.length
        client.write(data)
        return
      }
      client.write(data.subarray(0, Math.max(0, room)))
      if (responseFault.kind === 'reset') kill()
      else if (responseFault.kind === 'truncate') {
        dead = true
        client.end()
        upstream.destroy()
      } else holding = true
    })
  }
}
