// heroku-client 3.1.x ships no types; this covers what src/lib/heroku.ts uses.
declare module 'heroku-client' {
  import type { IncomingMessage } from 'node:http';

  interface HerokuRequestOptions {
    method?: string;
    path?: string;
    body?: unknown;
    headers?: Record<string, string>;
    /** Per-attempt socket timeout in ms; there is no default. */
    timeout?: number;
    /** Do not follow Next-Range. */
    partial?: boolean;
    parseJSON?: boolean;
    json?: boolean;
  }

  interface HerokuOptions extends HerokuRequestOptions {
    token?: string;
    /** Base URL, e.g. https://api.heroku.com */
    host?: string;
    userAgent?: string;
    /** Called with every response (each page) before it is read. */
    middleware?: (res: IncomingMessage, next: () => void) => void;
  }

  class Heroku {
    constructor(options?: HerokuOptions);
    request<T = unknown>(options: HerokuRequestOptions): Promise<T>;
    get<T = unknown>(path: string, options?: HerokuRequestOptions): Promise<T>;
    post<T = unknown>(path: string, options?: HerokuRequestOptions): Promise<T>;
    patch<T = unknown>(path: string, options?: HerokuRequestOptions): Promise<T>;
    put<T = unknown>(path: string, options?: HerokuRequestOptions): Promise<T>;
    delete<T = unknown>(path: string, options?: HerokuRequestOptions): Promise<T>;
  }
  export default Heroku;
}
