// Placeholder until the S3 server wiring lands: nothing to start.
export default async function setup(): Promise<void> {}
