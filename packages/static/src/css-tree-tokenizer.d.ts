// css-tree ships no types, and @types/css-tree does not cover its `css-tree/tokenizer` entry point,
// which we import alone so the package's CSS grammar data (mdn-data) is never loaded. Only what
// references.ts uses is declared.
declare module 'css-tree/tokenizer' {
  /** Tokenizes `source` as CSS Syntax Level 3 does, calling `onToken` with each token's type and offsets. */
  export function tokenize(source: string, onToken: (type: number, start: number, end: number) => void): void
  /** Token type numbers passed to `tokenize`'s callback. */
  export const tokenTypes: {
    readonly Function: number
    readonly AtKeyword: number
    readonly String: number
    readonly Url: number
    readonly WhiteSpace: number
    readonly Comment: number
  }
}
