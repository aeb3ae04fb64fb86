/**
 * Nunjucks support: `{% static 'css/app.css' %}` (Django's tag) and a
 * `static('...')` global. Nunjucks is an optional peer dependency: nothing
 * here imports it, the environment is passed in.
 */
import { staticUrl, type StaticUrls } from './static-urls.js'

type Resolve = () => StaticUrls | undefined

/** The part of a Nunjucks `Environment` used here (so no Nunjucks types are needed to compile). */
export interface NunjucksEnvironmentLike {
  addExtension(name: string, extension: object): unknown
  addGlobal(name: string, value: unknown): unknown
}

interface Parser {
  nextToken(): { value: string }
  parseSignature(a: null, b: boolean): unknown
  advanceAfterBlockEnd(name: string): void
}
interface Nodes {
  CallExtension: new (ext: object, method: string, args: unknown) => unknown
}

/** The `{% static %}` tag. */
export class StaticExtension {
  readonly tags = ['static']
  private readonly resolve: Resolve

  /** @param urls the `StaticUrls` to use (or a getter); default: whatever `configureStatic` set. */
  constructor(urls?: StaticUrls | Resolve) {
    this.resolve = typeof urls === 'function' ? urls : () => urls
  }

  parse(parser: Parser, nodes: Nodes): unknown {
    const tok = parser.nextToken()
    const args = parser.parseSignature(null, true)
    parser.advanceAfterBlockEnd(tok.value)
    return new nodes.CallExtension(this, 'run', args)
  }

  /** @returns the URL. @throws FileNotFoundError when strict and the path is not in the manifest. */
  run(_context: unknown, path: string): string {
    const urls = this.resolve()
    return urls ? urls.url(String(path)) : staticUrl(String(path))
  }
}

/**
 * Adds the `{% static %}` tag and a `static()` global to a Nunjucks environment.
 * @returns the environment.
 */
export function addStaticToNunjucks<E extends NunjucksEnvironmentLike>(env: E, urls?: StaticUrls | Resolve): E {
  const ext = new StaticExtension(urls)
  env.addExtension('StaticExtension', ext)
  env.addGlobal('static', (path: string) => ext.run(undefined, path))
  return env
}
