declare module 'wasm-connect:connector/network@0.1.0' {
  /**
   * Resolves `host` for a TCP connection to `port`. Succeeds only when the connector's
   * `sandbox.tcp.allow` lists `host:port`; returns the addresses the worker lets the
   * connector dial (textual IPv4 or IPv6, e.g. `192.0.2.7`, `2001:db8::1`), with those in
   * ranges the worker forbids (loopback, private, link-local, ...) left out. The error says
   * why none: not on the allow-list, no such name, or every address forbidden.
   */
  export function resolveTcp(host: string, port: number): Array<string>;
}
