/**
 * The axios adapter of the upstream's HttpService: one node:http(s) request on the instance's keep-alive agents, the
 * answer collected as bytes, decoded and capped as axios's own http adapter does it, without that adapter's work per
 * request for what the client never uses (redirects, proxies, progress streams), which a sweep would pay on every
 * upstream call (docs/performance.md). Invariants: no redirect, no proxy; `maxContentLength` counts decoded bytes and
 * reading stops past it; failures are AxiosErrors with axios's codes; a configuration it cannot honour is refused.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { type Readable, pipeline } from 'node:stream';
import { AxiosError, type AxiosResponse, CanceledError, type InternalAxiosRequestConfig } from 'axios';
import { decodersFor } from './content-codings';

/**
 * The body's length in bytes. Throws unless `config` asks only for what this adapter does: a string body, which
 * node:http writes in one piece with the head.
 */
function supportedBodyLength(config: InternalAxiosRequestConfig): number {
  const { proxy, maxRedirects, responseType, timeout, decompress, maxBodyLength = -1 } = config;
  const data: unknown = config.data;
  const length = typeof data === 'string' ? Buffer.byteLength(data) : Infinity;
  const bodyFits = length !== Infinity && !(maxBodyLength > -1 && length > maxBodyLength);
  if (proxy !== false || maxRedirects !== 0 || responseType !== 'arraybuffer' || !bodyFits || timeout || !decompress) {
    throw new AxiosError('upstream adapter: needs proxy:false, maxRedirects:0, arraybuffer, a string body, no timeout');
  }
  return length;
}

/** Sends `config`'s request and resolves with the whole answer, whatever its status. */
export function upstreamAxiosAdapter(config: InternalAxiosRequestConfig): Promise<AxiosResponse<Buffer>> {
  return new Promise((resolve, reject) => {
    const length = supportedBodyLength(config);
    const { signal, maxContentLength: limit = -1 } = config;
    const url = new URL(config.url!);
    const secure = url.protocol === 'https:';
    const headers = { ...(config.headers.toJSON(true) as http.OutgoingHttpHeaders), 'content-length': length };
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const options = { method: config.method!.toUpperCase(), hostname, port: url.port, headers };
    const transport = (config.transport ?? (secure ? https : http)) as typeof http;
    // The promise settles once: whichever of the events below comes first decides.
    const finish = (error: AxiosError | null, response?: AxiosResponse<Buffer>) => {
      signal?.removeEventListener?.('abort', onAbort);
      if (error === null) resolve(response!);
      else reject(error);
    };
    const fail = (message: string, response?: AxiosResponse) =>
      finish(new AxiosError(message, 'ERR_BAD_RESPONSE', config, request, response));
    const onAbort = () => {
      finish(new CanceledError(undefined, config, request));
      request.destroy();
    };
    const agent = (secure ? config.httpsAgent : config.httpAgent) as http.Agent | undefined;
    const request = transport.request({ ...options, path: url.pathname + url.search, agent }, (res) => {
      const streams = res.statusCode === 204 ? null : decodersFor(res.headers['content-encoding']);
      if (streams !== null) delete res.headers['content-encoding'];
      const stream = (streams === null ? res : pipeline([res, ...streams], () => undefined)) as Readable;
      const chunks: Buffer[] = [];
      let length = 0;
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (limit < 0 || length <= limit) return;
        fail(`maxContentLength size of ${limit} exceeded`);
        stream.destroy();
        request.destroy();
      });
      res.on('aborted', () => fail('stream has been aborted'));
      stream.on('error', (error) => finish(AxiosError.from(error, undefined, config, request)));
      stream.on('end', () => {
        const data: Buffer = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const { statusCode: status = 0, statusMessage: statusText = '' } = res;
        const response = { data, status, statusText, headers: res.headers, config, request };
        if (config.validateStatus?.(status) !== false) finish(null, response);
        else fail(`Request failed with status code ${status}`, response);
      });
    });
    request.on('error', (error) => finish(AxiosError.from(error, undefined, config, request)));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener?.('abort', onAbort);
    request.end(config.data as string);
  });
}
