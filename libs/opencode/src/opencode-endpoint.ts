/** Where an OpenCode server answers, and how to authenticate to it. */
export interface OpencodeEndpoint {
  /** e.g. http://127.0.0.1:4096 (no trailing slash). */
  baseUrl: string;
  /** Basic-auth password (user "opencode"), when the server requires one. */
  password?: string;
}

/**
 * The OpenCode server this process talks to. Read on every request: a managed server may
 * come back on another port after a restart.
 */
export interface OpencodeEndpointSource {
  endpoint(): OpencodeEndpoint;
  /** "provider/model" sent with prompts that name no model; undefined: the server's own default. */
  readonly defaultModel?: string;
}

/** Injection token of the OpencodeEndpointSource. */
export const OPENCODE_ENDPOINT = Symbol('OPENCODE_ENDPOINT');

/** An OpenCode server run by someone else (OPENCODE_HOST). */
export class StaticOpencodeEndpoint implements OpencodeEndpointSource {
  private readonly current: OpencodeEndpoint;

  constructor(
    baseUrl: string,
    password?: string,
    readonly defaultModel?: string,
  ) {
    this.current = { baseUrl: baseUrl.replace(/\/+$/, ''), password };
  }

  static fromHost(host: string, port: number, password?: string, defaultModel?: string): StaticOpencodeEndpoint {
    const base = /^https?:\/\//.test(host) ? host : `http://${host}`;
    const withPort = /:\d+\/?$/.test(base.replace(/^https?:\/\//, '')) ? base : `${base.replace(/\/+$/, '')}:${port}`;
    return new StaticOpencodeEndpoint(withPort, password, defaultModel);
  }

  endpoint(): OpencodeEndpoint {
    return this.current;
  }
}
