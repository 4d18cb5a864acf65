import { type Handler, answer } from './loopback';
import { SEED_JSON } from './seed';

// The upstream answers the upstream.retry.*.spec.ts files retry on, or not.

export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const ASPNET_500 = JSON.stringify({ Message: 'An error has occurred.' });

export const ok: Handler = answer(200, 'application/json; charset=utf-8', SEED_JSON);
export const status = (code: number, headers: Record<string, string> = {}): Handler =>
  answer(code, 'application/json; charset=utf-8', ASPNET_500, headers);
/** Reads the request, then drops the connection without answering. */
export const hangUp: Handler = (req) => req.socket.destroy();
