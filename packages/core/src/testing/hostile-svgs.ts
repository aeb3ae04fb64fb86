/**
 * SVG files that run script, or reach outside themselves, when a browser
 * opens them as a document, and real-world-looking SVGs that must still be
 * accepted. Each hostile payload announces itself if it ever works: script
 * requests `/pwned?<marker>` and sets `document.title` to `pwned <marker>`,
 * and a reference that leaves the document requests a URL containing
 * `pwned?<marker>`, so a headless browser can prove that none of them does
 * anything once served. Some would do nothing in today's Chromium even if
 * accepted (`uppercase-script`, `latin1`, `utf7`, and the SMIL animations
 * of `href` and `onmouseover`, which Chromium blocks); they stay because
 * other or older browsers differ and the check must not rely on it.
 */

/** One SVG test file. */
export interface SvgCase {
  title: string
  /** `<marker>.svg`; the marker is unique within its corpus. */
  filename: string
  /** What the payload requests and puts in `document.title` if it ever runs. */
  marker: string
  bytes: Buffer
}

const SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
const XLINK_NS = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
const XHTML_NS = 'http://www.w3.org/1999/xhtml'
const OPEN = `<svg ${SVG_NS} ${XLINK_NS} width="120" height="120">`

/** Script with no double quotes or ampersands, so it fits in attributes, entities and CDATA alike. */
function js(marker: string, scope = ''): string {
  return `${scope}fetch('/pwned?${marker}');${scope}document.title='pwned ${marker}'`
}

function svg(body: string, open = OPEN): string {
  return `${open}<rect width="120" height="120" fill="#eee"/>${body}</svg>`
}

function utf16le(text: string, bom: boolean): Buffer {
  const body = Buffer.from(text, 'utf16le')
  return bom ? Buffer.concat([Buffer.from([0xff, 0xfe]), body]) : body
}

const hostile: [marker: string, title: string, bytes: (m: string) => string | Buffer][] = [
  ['script', '<script> element', (m) => svg(`<script>${js(m)}</script>`)],
  ['cdata-script', '<script> whose code sits in a CDATA section', (m) => svg(`<script><![CDATA[${js(m)}]]></script>`)],
  [
    'svg-prefixed-script',
    '<svg:script> with the SVG namespace on a prefix',
    (m) => `<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="120" height="120"><svg:script>${js(m)}</svg:script></svg:svg>`,
  ],
  ['xhtml-script', '<h:script> in the XHTML namespace', (m) => svg(`<h:script xmlns:h="${XHTML_NS}">${js(m)}</h:script>`)],
  [
    'uppercase-script',
    '<SCRIPT> in the SVG namespace (XML is case sensitive: not a script, and not allowlisted either)',
    (m) => svg(`<SCRIPT>${js(m)}</SCRIPT>`),
  ],
  [
    'script-in-metadata',
    '<script> nested in Inkscape editor metadata',
    (m) => svg(`<sodipodi:namedview xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"><script>${js(m)}</script></sodipodi:namedview>`),
  ],
  [
    'padded-script',
    '<script> after 4100 bytes of padding comment (past any sniffing window)',
    (m) => svg(`<!-- ${'padding '.repeat(520)} --><script>${js(m)}</script>`),
  ],
  ['onload', 'onload on the <svg> root', (m) => `<svg ${SVG_NS} width="120" height="120" onload="${js(m)}"><rect width="120" height="120"/></svg>`],
  [
    'entity-script',
    '<script> hidden in an internal DTD entity',
    (m) => `<!DOCTYPE svg [<!ENTITY s "&#60;script&#62;${js(m)}&#60;/script&#62;">]>${svg('&s;')}`,
  ],
  [
    'entity-onerror',
    'onerror attribute hidden in an internal DTD entity',
    (m) => `<!DOCTYPE svg [<!ENTITY i "&#60;image href='missing.png' width='10' height='10' onerror=&#34;${js(m)}&#34;/&#62;">]>${svg('&i;')}`,
  ],
  ['utf16-bom', 'UTF-16 (with BOM) SVG with <script>', (m) => utf16le(`<?xml version="1.0" encoding="UTF-16"?>${svg(`<script>${js(m)}</script>`)}`, true)],
  [
    'utf16-no-bom',
    'UTF-16 SVG without BOM, declared UTF-16, with <script>',
    (m) => utf16le(`<?xml version="1.0" encoding="UTF-16"?>${svg(`<script>${js(m)}</script>`)}`, false),
  ],
  [
    'utf7',
    'encoding="UTF-7" declaration with the script tags written in UTF-7',
    (m) => `<?xml version="1.0" encoding="UTF-7"?>${svg(`+ADw-script+AD4-${js(m)}+ADw-/script+AD4-`)}`,
  ],
  [
    'latin1',
    'encoding="ISO-8859-1" declaration (the bytes would be read differently than checked; no payload)',
    () => `<?xml version="1.0" encoding="ISO-8859-1"?>${svg('<text y="20">café</text>')}`,
  ],
  [
    'char-ref-javascript',
    '<a xlink:href="jav&#x61;script:..."> (character reference in the scheme)',
    (m) => svg(`<a xlink:href="jav&#x61;script:${js(m)}"><text y="60">click</text></a>`),
  ],
  [
    'tab-javascript',
    '<a href> with a tab and a newline inside the javascript: scheme',
    (m) => svg(`<a href="jav&#9;ascr&#10;ipt:${js(m)}"><text y="60">click</text></a>`),
  ],
  [
    'foreign-object',
    '<foreignObject> holding an HTML body with <script>',
    (m) => svg(`<foreignObject width="120" height="120"><body xmlns="${XHTML_NS}"><script>${js(m)}</script></body></foreignObject>`),
  ],
  [
    'iframe',
    'XHTML <iframe srcdoc> straight under the root',
    (m) => svg(`<iframe xmlns="${XHTML_NS}" srcdoc="&lt;script&gt;${js(m, 'top.')}&lt;/script&gt;"/>`),
  ],
  [
    'embed',
    'XHTML <embed> in a <foreignObject>',
    (m) => svg(`<foreignObject width="120" height="120"><embed xmlns="${XHTML_NS}" type="text/html" src="/pwned?${m}"/></foreignObject>`),
  ],
  [
    'object',
    'XHTML <object> in a <foreignObject>',
    (m) => svg(`<foreignObject width="120" height="120"><object xmlns="${XHTML_NS}" type="text/html" data="/pwned?${m}"/></foreignObject>`),
  ],
  ['use-external', '<use href> to another document', (m) => svg(`<use href="http://evil.test/pwned?${m}#a"/>`)],
  [
    'image-data',
    '<image href="data:..."> (an SVG with script, as a data: URL)',
    (m) => svg(`<image width="50" height="50" href="data:image/svg+xml;base64,${Buffer.from(svg(`<script>${js(m)}</script>`)).toString('base64')}"/>`),
  ],
  [
    'animate-href',
    '<animate attributeName="href" to="javascript:..."> on a link',
    (m) => svg(`<a><animate attributeName="href" to="javascript:${js(m)}" begin="0s" fill="freeze"/><text y="60">click</text></a>`),
  ],
  [
    'set-onmouseover',
    '<set attributeName="onmouseover">',
    (m) => svg(`<circle cx="60" cy="60" r="50"><set attributeName="onmouseover" to="${js(m)}"/></circle>`),
  ],
  [
    'xml-stylesheet',
    '<?xml-stylesheet?> processing instruction',
    (m) => `<?xml version="1.0"?><?xml-stylesheet type="text/css" href="/pwned?${m}"?>${svg('')}`,
  ],
  ['style-import', '<style>@import url(...)</style>', (m) => svg(`<style>@import url(/pwned?${m});</style>`)],
  ['style-escaped-import', '<style> with @import hidden behind a CSS escape', (m) => svg(`<style>@\\69mport '/pwned?${m}';</style>`)],
  ['external-fill', 'fill="url(...)" referencing another document', (m) => svg(`<circle cx="60" cy="60" r="50" fill="url(http://evil.test/pwned?${m}#g)"/>`)],
]

/**
 * @returns fresh copies of the hostile SVGs: every one must be refused.
 *   Covers script by element, attribute, namespace, entity, encoding and
 *   URL-scheme tricks, animations that set links or handlers, external
 *   references, active CSS and processing instructions. Never throws.
 */
export function hostileSvgs(): SvgCase[] {
  return hostile.map(([marker, title, make]) => {
    const bytes = make(marker)
    return { title, filename: `${marker}.svg`, marker, bytes: typeof bytes === 'string' ? Buffer.from(bytes) : bytes }
  })
}

const INKSCAPE = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape (http://www.inkscape.org/) -->

<svg
   width="210mm"
   height="297mm"
   viewBox="0 0 210 297"
   version="1.1"
   id="svg1"
   inkscape:version="1.3.2 (091e20e, 2023-11-25)"
   sodipodi:docname="badge.svg"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns:xlink="http://www.w3.org/1999/xlink"
   xmlns="http://www.w3.org/2000/svg"
   xmlns:svg="http://www.w3.org/2000/svg"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:cc="http://creativecommons.org/ns#"
   xmlns:dc="http://purl.org/dc/elements/1.1/">
  <sodipodi:namedview
     id="namedview1"
     pagecolor="#ffffff"
     bordercolor="#000000"
     borderopacity="0.25"
     inkscape:showpageshadow="2"
     inkscape:pageopacity="0.0"
     inkscape:document-units="mm"
     inkscape:zoom="0.73"
     inkscape:current-layer="layer1">
    <inkscape:grid
       id="grid1"
       units="mm"
       spacingx="1"
       spacingy="1" />
  </sodipodi:namedview>
  <defs
     id="defs1">
    <linearGradient
       id="linearGradient1"
       inkscape:collect="always">
      <stop
         style="stop-color:#2a7fff;stop-opacity:1;"
         offset="0"
         id="stop1" />
      <stop
         style="stop-color:#2a7fff;stop-opacity:0;"
         offset="1"
         id="stop2" />
    </linearGradient>
    <radialGradient
       inkscape:collect="always"
       xlink:href="#linearGradient1"
       id="radialGradient2"
       cx="105"
       cy="120"
       r="60"
       gradientUnits="userSpaceOnUse" />
  </defs>
  <metadata
     id="metadata1">
    <rdf:RDF>
      <cc:Work
         rdf:about="">
        <dc:format>image/svg+xml</dc:format>
        <dc:type
           rdf:resource="http://purl.org/dc/dcmitype/StillImage" />
        <dc:title>Badge</dc:title>
        <cc:license
           rdf:resource="http://creativecommons.org/licenses/by-sa/4.0/" />
      </cc:Work>
    </rdf:RDF>
  </metadata>
  <g
     inkscape:label="Layer 1"
     inkscape:groupmode="layer"
     id="layer1">
    <circle
       style="fill:url(#radialGradient2);fill-opacity:1;stroke:#000000;stroke-width:0.8"
       id="path1"
       cx="105"
       cy="120"
       r="60" />
    <path
       style="fill:none;stroke:#000000;stroke-width:0.5px"
       d="m 60,180 c 20,-20 70,-20 90,0"
       id="path2"
       sodipodi:nodetypes="cc" />
    <text
       xml:space="preserve"
       style="font-size:12px;font-family:'DejaVu Sans';fill:#000000"
       x="80"
       y="125"
       id="text1"><tspan
         sodipodi:role="line"
         id="tspan1"
         x="80"
         y="125">Café ☕</tspan></text>
  </g>
</svg>
`

const SPRITE = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 64 32" role="img" aria-labelledby="t">
  <title id="t">Icons</title>
  <desc>Two stars from one symbol</desc>
  <style>
    .star { fill: #c33; stroke: #600; stroke-width: 0.5 }
    .star:hover { fill: url(#shine) }
    text { font: 6px sans-serif; fill: #333 }
  </style>
  <defs>
    <linearGradient id="shine" x1="0" x2="1"><stop offset="0" stop-color="#fc0"/><stop offset="1" stop-color="#f60"/></linearGradient>
    <symbol id="star" viewBox="0 0 24 24"><path class="star" d="M12 2l3 7h7l-5.5 4.5 2 7.5L12 17l-6.5 4 2-7.5L2 9h7z"/></symbol>
  </defs>
  <use href="#star" x="0" y="0" width="24" height="24"/>
  <use xlink:href="#star" x="32" y="0" width="24" height="24"/>
  <a href="#star"><text x="2" y="30">stars</text></a>
</svg>
`

const EFFECTS = `<?xml version="1.0" encoding="utf-8"?>
<!-- Generator: Adobe Illustrator 28.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->
<svg version="1.1" id="Layer_1" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" x="0px" y="0px"
	 viewBox="0 0 100 100" style="enable-background:new 0 0 100 100;" xml:space="preserve">
<defs>
	<filter id="shadow" x="-20%" y="-20%" width="140%" height="140%">
		<feGaussianBlur in="SourceAlpha" stdDeviation="2"/>
		<feOffset dx="1" dy="2" result="offset"/>
		<feComponentTransfer><feFuncA type="linear" slope="0.5"/></feComponentTransfer>
		<feMerge><feMergeNode/><feMergeNode in="SourceGraphic"/></feMerge>
	</filter>
	<clipPath id="clip"><circle cx="50" cy="50" r="40"/></clipPath>
	<mask id="fade"><rect width="100" height="100" fill="white"/><circle cx="70" cy="30" r="10" fill="black"/></mask>
	<pattern id="dots" width="8" height="8" patternUnits="userSpaceOnUse"><circle cx="4" cy="4" r="1.5" fill="#369"/></pattern>
	<marker id="arrow" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z"/></marker>
</defs>
<g filter="url(#shadow)" clip-path="url(#clip)" mask="url('#fade')">
	<rect width="100" height="100" fill="url(#dots)"/>
</g>
<polyline points="10,90 50,60 90,90" fill="none" stroke="#000" marker-end="url(#arrow)"/>
<circle cx="50" cy="50" r="5" fill="#c00">
	<animate attributeName="r" values="5;8;5" dur="2s" repeatCount="indefinite"/>
	<animateTransform attributeName="transform" type="rotate" from="0 50 50" to="360 50 50" dur="4s" repeatCount="indefinite"/>
</circle>
</svg>
`

/**
 * @returns fresh copies of benign, real-world-looking SVGs that a safe
 *   policy must still accept: an Inkscape drawing with editor and RDF
 *   metadata (UTF-8, with a BOM), an icon sprite with `<style>`, `<use>` by
 *   `href` and `xlink:href`, and an Illustrator export with filters, clips,
 *   masks, patterns, markers and animation. Never throws.
 */
export function benignSvgs(): SvgCase[] {
  const cases: [string, string, Buffer][] = [
    [
      'inkscape',
      'Inkscape drawing with sodipodi/inkscape/RDF metadata, gradients and text (UTF-8 with BOM)',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(INKSCAPE)]),
    ],
    ['sprite', 'icon sprite: <style>, <symbol>, <use href="#id"> and xlink:href="#id", a same-document link', Buffer.from(SPRITE)],
    ['effects', 'Illustrator export: filter, clipPath, mask, pattern, marker, animation', Buffer.from(EFFECTS)],
  ]
  return cases.map(([marker, title, bytes]) => ({ title, filename: `${marker}.svg`, marker, bytes }))
}
