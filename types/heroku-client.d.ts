// heroku-client 3.1.x ships no types; this covers what src/lib/heroku/client.ts uses.
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

// heroku-client's request machinery (one instance per call, following Next-Range pages),
// which src/lib/heroku/request.ts extends: only the members it uses or overrides.
declare module 'heroku-client/lib/request.js' {
  import type { ClientRequest, IncomingMessage } from 'node:http';

  interface RequestOptions {
    token?: string;
    host?: string;
    userAgent?: string;
    method?: string;
    path?: string;
    body?: unknown;
    headers?: Record<string, string>;
    middleware?: (res: IncomingMessage, next: () => void) => void;
  }

  class Request {
    constructor(options: RequestOptions);
    options: RequestOptions;
    middleware: (res: IncomingMessage, next: () => void) => void;
    promise: Promise<unknown>;
    resolve(value: unknown): void;
    reject(err: unknown): void;
    request(): Promise<unknown>;
    handleResponse(res: IncomingMessage): void;
    handleError(err: Error): void;
    handleSuccess(res: IncomingMessage, data: string): void;
    handleFailure(res: IncomingMessage, data: string): void;
    logRequest(req: ClientRequest): void;
    logResponse(res: IncomingMessage): void;
    setRequestTimeout(req: ClientRequest): void;
  }
  export default Request;
}
