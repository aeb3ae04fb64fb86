/**
 * One HTTP request carrying bytes. `XMLHttpRequest` where there is one,
 * because only it reports upload progress; `fetch` elsewhere (workers, Node,
 * Deno), reporting progress once the body is sent.
 */

/** A request to send. */
export interface SendRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: Blob | FormData
  signal?: AbortSignal
  /** Bytes of the body sent so far. */
  onProgress?: (loaded: number) => void
}

/** The outcome: status 0 for a network failure or an abort (never thrown). */
export interface SendResult {
  status: number
  body?: string
}

/**
 * Sends the request once.
 * @returns the status and response text; status 0 when the request never got an answer.
 */
export function sendBytes(req: SendRequest): Promise<SendResult> {
  if (req.signal?.aborted) return Promise.resolve({ status: 0 })
  return typeof XMLHttpRequest === 'function' ? sendXhr(req) : sendFetch(req)
}

function sendXhr(req: SendRequest): Promise<SendResult> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest()
    xhr.open(req.method, req.url)
    for (const [k, v] of Object.entries(req.headers)) xhr.setRequestHeader(k, v)
    xhr.upload.onprogress = (e) => req.onProgress?.(e.loaded)
    const done = (status: number) => () => {
      req.signal?.removeEventListener('abort', abort)
      resolve({ status, body: status ? xhr.responseText : undefined })
    }
    xhr.onload = () => done(xhr.status)()
    xhr.onerror = done(0)
    xhr.onabort = done(0)
    xhr.ontimeout = done(0)
    const abort = () => xhr.abort()
    req.signal?.addEventListener('abort', abort, { once: true })
    xhr.send(req.body)
  })
}

async function sendFetch(req: SendRequest): Promise<SendResult> {
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: req.signal })
    const body = await res.text()
    if (res.ok && req.body instanceof Blob) req.onProgress?.(req.body.size)
    return { status: res.status, body }
  } catch {
    return { status: 0 }
  }
}
