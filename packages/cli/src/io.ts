/** What commands read and write, injectable so tests run them in-process. */
export interface Io {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number }
  /** Asks a question on the terminal; absent when there is no terminal to ask on. */
  prompt?: (question: string) => Promise<string>
  cwd: string
  env: NodeJS.ProcessEnv
  now?: () => number
}
