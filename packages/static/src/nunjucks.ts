/**
 * Nunjucks support: `{% static 'css/app.css' %}` (Django's tag), tags for
 * `<script>` and `<link rel="stylesheet">` with Subresource Integrity, and
 * `static()` / `static_integrity()` globals. Nunjucks is an optional peer
 * dependency: nothing here imports it, the environment is passed in.
 */
import { currentStatic, type StaticUrls, type TagAttributes } from './static-urls.js'

type Resolve = () => StaticUrls | undefined

/** The part of a Nunjucks `Environment` used here (so no Nunjucks types are needed to compile). */
export interface NunjucksEnvironmentLike {
  addExtension(name: string, extension: object): unknown
  addGlobal(name: string, value: unknown): unknown
  /** Nunjucks' own `safe` filter marks generated tags as HTML, so autoescaping leaves them alone. */
  getFilter?(name: string): unknown
}

interface Parser {
  nextToken(): { value: string }
  parseSignature(a: null, b: boolean): unknown
  advanceAfterBlockEnd(name: string): void
}
interface Nodes {
  CallExtension: new (ext: object, method: string, args: unknown) => unknown
}

/** What a tag's keyword arguments arrive as (`type='module', defer=true`). */
type Keywords = TagAttributes & { __keywords?: boolean }

/**
 * `{% static %}`, `{% static_script %}` and `{% static_stylesheet %}`:
 *
 * ```njk
 * <link rel="icon" href="{% static 'favicon.ico' %}">
 * {% static_stylesheet 'css/app.css' %}
 * {% static_script 'js/app.js', type='module' %}
 * ```
 * The last two write the whole tag, with `integrity="sha384-…"` and
 * `crossorigin="anonymous"` when the manifest records the file's integrity.
 */
export class StaticExtension {
  readonly tags = ['static', 'static_script', 'static_stylesheet']
  private readonly resolve: Resolve

  /** @param urls the `StaticUrls` to use (or a getter); default: whatever `configureStatic` set. */
  constructor(urls?: StaticUrls | Resolve) {
    this.resolve = typeof urls === 'function' ? urls : () => urls
  }

  parse(parser: Parser, nodes: Nodes): unknown {
    const tok = parser.nextToken()
    const args = parser.parseSignature(null, true)
    parser.advanceAfterBlockEnd(tok.value)
    const method = tok.value === 'static_script' ? 'script' : tok.value === 'static_stylesheet' ? 'stylesheet' : 'run'
    return new nodes.CallExtension(this, method, args)
  }

  private urls(): StaticUrls {
    return this.resolve() ?? currentStatic()
  }

  /** @returns the URL. @throws FileNotFoundError when strict and the path is not in the manifest. */
  run(_context: unknown, path: string): string {
    return this.urls().url(String(path))
  }

  /** @returns the `<script>` tag, marked safe for autoescaping. @throws as `StaticUrls.scriptTag`. */
  script(context: unknown, path: string, keywords?: Keywords): unknown {
    return markSafe(context, this.urls().scriptTag(String(path), attributesOf(keywords)))
  }

  /** @returns the `<link rel="stylesheet">` tag, marked safe for autoescaping. @throws as `StaticUrls.stylesheetTag`. */
  stylesheet(context: unknown, path: string, keywords?: Keywords): unknown {
    return markSafe(context, this.urls().stylesheetTag(String(path), attributesOf(keywords)))
  }
}

function attributesOf(keywords: Keywords | undefined): TagAttributes {
  if (!keywords || typeof keywords !== 'object') return {}
  const { __keywords: _, ...rest } = keywords
  return rest
}

/** Wraps generated HTML in Nunjucks' SafeString, through the environment's own `safe` filter. */
function markSafe(context: unknown, html: string): unknown {
  const env = (context as { env?: NunjucksEnvironmentLike } | undefined)?.env
  const safe = env?.getFilter?.('safe')
  return typeof safe === 'function' ? (safe as (s: string) => unknown)(html) : html
}

/**
 * Adds the tags of `StaticExtension` and the globals `static(path)` and
 * `static_integrity(path)` to a Nunjucks environment.
 * @returns the environment.
 */
export function addStaticToNunjucks<E extends NunjucksEnvironmentLike>(env: E, urls?: StaticUrls | Resolve): E {
  const ext = new StaticExtension(urls)
  const resolve = typeof urls === 'function' ? urls : () => urls
  env.addExtension('StaticExtension', ext)
  env.addGlobal('static', (path: string) => ext.run(undefined, path))
  env.addGlobal('static_integrity', (path: string) => (resolve() ?? currentStatic()).integrity(String(path)) ?? '')
  return env
}
