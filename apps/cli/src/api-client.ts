import axios, { AxiosError, AxiosInstance, AxiosRequestConfig } from 'axios';
import { GlobalOptions } from './args';

/**
 * An error the API answered with ({statusCode, code, message, details?}), or a failure to
 * reach it (statusCode 0, code CONNECTION_FAILED).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** 400-class input mistakes exit 2; everything else (404, 409, 5xx, unreachable) exits 1. */
  get exitCode(): number {
    return this.statusCode === 400 || this.statusCode === 422 ? 2 : 1;
  }
}

/** Builds the ApiError of a non-2xx answer from its body (JSON error, or anything else a proxy may send). */
export function apiErrorFrom(status: number, body: unknown, what: string): ApiError {
  const parsed = typeof body === 'string' ? tryJson(body) : body;
  if (parsed && typeof parsed === 'object' && 'message' in parsed) {
    const b = parsed as { code?: unknown; message?: unknown; details?: unknown };
    const message = Array.isArray(b.message) ? b.message.join('; ') : String(b.message);
    return new ApiError(status, typeof b.code === 'string' ? b.code : `HTTP_${status}`, message, b.details);
  }
  const text = typeof body === 'string' ? body.trim().slice(0, 200) : '';
  return new ApiError(status, `HTTP_${status}`, `${what} answered ${status}${text ? `: ${text}` : ''}`);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The REST calls the CLI makes, over axios. Each rejects with ApiError. */
export class ApiClient {
  private readonly http: AxiosInstance;

  constructor(readonly options: GlobalOptions) {
    this.http = axios.create({
      baseURL: options.url,
      timeout: 60_000,
      headers: { accept: 'application/json', ...this.authHeaders() },
      // Status handling is ours: every non-2xx becomes an ApiError with the server's code.
      validateStatus: () => true,
    });
  }

  authHeaders(): Record<string, string> {
    return this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {};
  }

  get<T>(path: string, params?: Record<string, unknown>): Promise<T> {
    return this.call<T>('GET', path, undefined, params);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }

  /** A GET whose answer is text (a diff), given back exactly as sent; an error still answers JSON. */
  getText(path: string, accept: string, params?: Record<string, unknown>): Promise<string> {
    return this.call<string>('GET', path, undefined, params, { responseType: 'text', transformResponse: [(data: unknown) => data], headers: { accept } });
  }

  private async call<T>(method: 'GET' | 'POST' | 'PATCH', path: string, data?: unknown, params?: Record<string, unknown>, extra: AxiosRequestConfig = {}): Promise<T> {
    const cleanParams = params ? Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) : undefined;
    try {
      const res = await this.http.request({ method, url: path, data, params: cleanParams, ...extra });
      if (res.status >= 200 && res.status < 300) return res.data as T;
      throw apiErrorFrom(res.status, res.data, `${method} ${path}`);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw connectionError(err, this.options.url);
    }
  }
}

export function connectionError(err: unknown, url: string): ApiError {
  const e = err as AxiosError & { code?: string };
  const reason = e.code ?? e.message ?? String(err);
  return new ApiError(0, 'CONNECTION_FAILED', `cannot reach the orchestrator at ${url} (${reason}); set --url or ORCHESTRATOR_URL`);
}
